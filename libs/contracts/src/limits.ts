/** Limits every edge enforces; errors name the limit. */
export const Limits = {
  textMaxChars: 2_000,
  authorMaxChars: 64,
  historyPageMax: 1_000,
  fetchBatchMax: 500,
} as const;
