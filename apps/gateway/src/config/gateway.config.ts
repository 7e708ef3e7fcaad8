import { Env, envInteger, Member, parseMembers } from '@app/contracts';

export interface GatewayConfig {
  readonly port: number;
  readonly host: string;
  readonly members: readonly Member[];
  /** How long a node may take to answer before the gateway says 503 (ms). */
  readonly nodeTimeoutMs: number;
  /** How long to wait for a connection to a node before saying 503 (ms). */
  readonly connectTimeoutMs: number;
  /** Requests per IP per 10 s; 0 turns rate limiting off. */
  readonly rateLimit: number;
  readonly corsOrigin: string | false;
  readonly bodyLimitBytes: number;
}

export function loadGatewayConfig(env: Env): GatewayConfig {
  return {
    port: envInteger(env, 'PORT', 3000, 0, 65535),
    host: env.HOST || '127.0.0.1',
    members: parseMembers(env.CHAT_MEMBERS),
    nodeTimeoutMs: envInteger(env, 'GATEWAY_NODE_TIMEOUT_MS', 3000, 50, 120_000),
    connectTimeoutMs: envInteger(env, 'GATEWAY_CONNECT_TIMEOUT_MS', 300, 10, 60_000),
    rateLimit: envInteger(env, 'GATEWAY_RATE_LIMIT', 2000, 0, 10_000_000),
    corsOrigin: env.GATEWAY_CORS_ORIGIN ? env.GATEWAY_CORS_ORIGIN : false,
    bodyLimitBytes: envInteger(env, 'GATEWAY_BODY_LIMIT_BYTES', 64 * 1024, 1024, 16 * 1024 * 1024),
  };
}

export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');
