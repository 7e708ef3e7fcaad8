/* The page state every module shares, and its constants. */
export const WINDOW_MS = 30_000;

/** The whole-run diagram draws at most this many messages (the latest), to stay fast. */
export const RUN_MAX_MESSAGES = 2_000;

export const state = {
  members: [],
  nodes: new Map(),
  selected: null,
  trace: [],
  /** "node/id" -> when this page saw that node hold the message back (for the whole run). */
  holds: new Map(),
  mode: 'live',
  /** The finished-run view: every node's deliveries, fetched by REST, with server times. */
  run: { deliveries: new Map(), loading: null },
};
