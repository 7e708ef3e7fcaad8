export * from './zmq.server';
export * from './zmq.client';
export * from './zmq.context';
export * from './zmq.errors';
export * from './zmq.options';
export * from './zmq.codec';
export * from './zmq.tokens';
export * from './socket-writer';
