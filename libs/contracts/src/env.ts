import { ConfigError } from './members';

/** The process environment as configuration reads it. */
export type Env = Record<string, string | undefined>;

/** An integer variable within [min, max], or `fallback` when unset; a clear error otherwise. */
export function envInteger(
  env: Env,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(name, `must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}
