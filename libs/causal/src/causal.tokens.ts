/** DI tokens of the causal library. */
export const CAUSAL_OPTIONS = Symbol('CAUSAL_OPTIONS');
export const CAUSAL_BUFFER = Symbol('CAUSAL_BUFFER');
export const CAUSAL_MEMBERS = Symbol('CAUSAL_MEMBERS');
