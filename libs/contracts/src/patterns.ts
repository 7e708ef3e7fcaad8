/** Request patterns a chat node answers (gateway -> node, node -> node). */
export const Requests = {
  send: 'chat.send',
  history: 'chat.history',
  state: 'node.state',
  log: 'node.log',
  networkGet: 'network.get',
  networkSet: 'network.set',
  networkReset: 'network.reset',
  fetch: 'replica.fetch',
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
} as const;
export const NODE_TOPIC = 'node.';
