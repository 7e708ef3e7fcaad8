export * from './patterns';
export * from './limits';
export * from './messages';
export * from './members';
export * from './env';
export * from './cluster-keys';
export * from './membership';
export * from './time';
