/** Limits every edge enforces; errors name the limit. */
export const Limits = {
  textMaxChars: 2_000,
  authorMaxChars: 64,
  historyPageMax: 1_000,
  fetchBatchMax: 500,
  /** Messages in one `replica.messages` event: 64 of the largest still fit a 1 MiB frame. */
  replicaBatchMax: 64,
} as const;
