export * from './vector-clock';
export * from './hybrid-clock';
export * from './hlc-checker';
export * from './causal-buffer';
export * from './causal-checker';
export * from './causal.module';
export * from './causal.tokens';
