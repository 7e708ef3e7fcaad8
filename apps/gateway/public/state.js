/* The page state every module shares, and its constants. */
export const WINDOW_MS = 30_000;

/** The whole-run diagram draws at most this many messages per node (a window), to stay fast. */
export const RUN_MAX_MESSAGES = 2_000;
/** Paging the whole-run view keeps this many deliveries of the window it leaves in view. */
export const RUN_OVERLAP = 100;

export const state = {
  members: [],
  nodes: new Map(),
  selected: null,
  trace: [],
  /** "node/id" -> when this page saw that node hold the message back (for the whole run). */
  holds: new Map(),
  mode: 'live',
  /** The whole run's time axis: 'true' time, or each 'node''s own clock (skew shows). */
  runAxis: 'true',
  /**
   * The finished-run view: each node's deliveries in a window, fetched by REST, with server
   * times. `end` is null while the view follows the newest deliveries, else node id -> the
   * last delivery index of the window; `loaded` says which window `deliveries` holds.
   */
  run: { deliveries: new Map(), loading: null, end: null, loaded: null },
};
