/** Limits every edge enforces; errors name the limit. */
export const Limits = {
  textMaxChars: 2_000,
  authorMaxChars: 64,
  historyPageMax: 1_000,
  fetchBatchMax: 500,
  /** Messages in one `replica.messages` event: 64 of the largest still fit a 1 MiB frame. */
  replicaBatchMax: 64,
  /** Trace events in one page of a node's event log (node.log); its default is the gateway's. */
  logPageMaxEvents: 5_000,
  /** Bytes of trace JSON in one page of node.log: the reply stays far below a 1 MiB frame. */
  logPageMaxBytes: 256 * 1024,
} as const;
