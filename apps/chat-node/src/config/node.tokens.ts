/** DI tokens of the chat node. */
export const NODE_CONFIG = Symbol('NODE_CONFIG');
export const PEER_CLIENTS = Symbol('PEER_CLIENTS');
export const PUBLISHER = Symbol('PUBLISHER');
/** The ConnectionAudit shared by all of the node's ZeroMQ sockets. */
export const CONNECTION_AUDIT = Symbol('CONNECTION_AUDIT');
/** `(error: Error) => void`: told once when the node's storage fails (a write or fsync error). */
export const STORAGE_FAILED = Symbol('STORAGE_FAILED');
/** The node's ZmqServer (the microservice transport): PeerLinks subscribes to peers on it. */
export const ZMQ_SERVER = Symbol('ZMQ_SERVER');
/** `() => void`: told once when this node delivered its own retirement (the process exits). */
export const RETIRED = Symbol('RETIRED');
/** The node's PhysicalClock: simulated offset and drift, plus synchronization's correction. */
export const PHYSICAL_CLOCK = Symbol('PHYSICAL_CLOCK');
