/** Request patterns a chat node answers (gateway -> node, node -> node). */
export const Requests = {
  send: 'chat.send',
  history: 'chat.history',
  state: 'node.state',
  log: 'node.log',
  /** A page of the node's run events: `{after, limit, fromMs, toMs}` -> `RunPage`. */
  run: 'node.run',
  networkGet: 'network.get',
  networkSet: 'network.set',
  networkReset: 'network.reset',
  fetch: 'replica.fetch',
  /** The node's inbox (`InboxView`). */
  inboxGet: 'inbox.get',
  /** Operator, via the gateway: `{paused?, breakOn?}`; resuming releases the tray in order. */
  inboxSet: 'inbox.set',
  /** Operator, via the gateway: `{flightId, action: deliver | drop | duplicate}`. */
  inboxAct: 'inbox.act',
  /** The node's clocks (`TimeView`). */
  clockGet: 'clock.get',
  /** Operator, via the gateway: `{offsetMs?, driftPpm?}` of the simulated physical clock. */
  clockSet: 'clock.set',
  /** Operator, via the gateway: `{mode, setAt}` of the synchronization algorithm. */
  clockSync: 'clock.sync',
  /** Between nodes: NTP's timed request/reply (`TimePing` -> `TimePong`). */
  timePing: 'time.ping',
  /** Berkeley's master to a node: `TimeAdjust`. */
  timeAdjust: 'time.adjust',
  /** The node's view of the membership (`MembershipView`). */
  membership: 'membership.get',
  /** Operator, via the gateway: admit `{id, address, publicKey?}` (the node logs the entry). */
  admit: 'membership.admit',
  /** Operator, via the gateway: retire `{id, force?}` once its messages are safe elsewhere. */
  retire: 'membership.retire',
  /** A joiner asks an admitted id's grant: `{id, address}` -> `JoinGrant`. */
  join: 'membership.join',
  /** A coordinator asks a retiring member to stop originating: -> `{lastSeq}`; `{resume: true}` undoes it. */
  drain: 'membership.drain',
  /** A coordinator tells a retired member it is out: `{entry}`; it exits. */
  leave: 'membership.leave',
} as const;

/** Events between replicas; their topic prefix is `replica.`. */
export const ReplicaEvents = {
  message: 'replica.message',
  /** Several originations of one group commit, in seq order: `{ messages: [...] }`. */
  messages: 'replica.messages',
  heartbeat: 'replica.heartbeat',
} as const;
export const REPLICA_TOPIC = 'replica.';

/** Events a node publishes for the gateway; their topic prefix is `node.`. */
export const NodeEvents = {
  delivered: 'node.delivered',
  buffered: 'node.buffered',
  clock: 'node.clock',
  /** The node's inbox changed (paused, resumed, a copy parked or handled): its `InboxView`. */
  inbox: 'node.inbox',
  /** The node applied a membership change: its `MembershipView`. */
  membership: 'node.membership',
} as const;
export const NODE_TOPIC = 'node.';
