/** DI tokens of the chat node. */
export const NODE_CONFIG = Symbol('NODE_CONFIG');
export const PEER_CLIENTS = Symbol('PEER_CLIENTS');
export const PUBLISHER = Symbol('PUBLISHER');
