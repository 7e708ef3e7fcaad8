import {
  ClusterKeys,
  ConfigError,
  Env,
  envInteger,
  loadClusterKeys,
  Member,
  NODE_ID_PATTERN,
  parseMembers,
} from '@app/contracts';

export interface GatewayConfig {
  readonly port: number;
  readonly host: string;
  /** False when HOST is a loopback address: then only this machine can reach the gateway. */
  readonly exposed: boolean;
  readonly members: readonly Member[];
  /** This gateway's name: its key pair is `<id>.key` / `<id>.pub`. */
  readonly id: string;
  /** CURVE keys; undefined when CHAT_CURVE=off. */
  readonly curve?: ClusterKeys;
  /** Bearer token of the operator endpoints; undefined leaves them open (loopback only, or GATEWAY_ADMIN_TOKEN=none). */
  readonly adminToken?: string;
  /** How long a node may take to answer before the gateway says 503 (ms). */
  readonly nodeTimeoutMs: number;
  /** How long to wait for a connection to a node before saying 503 (ms). */
  readonly connectTimeoutMs: number;
  /** Requests per IP, and Socket.IO sends per connection, per 10 s; 0 turns rate limiting off. */
  readonly rateLimit: number;
  readonly corsOrigin: string | false;
  readonly bodyLimitBytes: number;
  /** The launcher of `npm start` (CHAT_LAUNCHER_URL, CHAT_LAUNCHER_TOKEN): it starts added nodes. */
  readonly launcher?: { readonly url: string; readonly token: string };
}

/** The shortest admin token accepted: a guessable token is no guard. */
export const ADMIN_TOKEN_MIN_CHARS = 16;

const isLoopback = (host: string) =>
  host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);

function adminToken(env: Env, host: string): string | undefined {
  const token = env.GATEWAY_ADMIN_TOKEN;
  if (token === 'none') return undefined;
  if (token === undefined || token === '') {
    if (isLoopback(host)) return undefined;
    throw new ConfigError(
      'GATEWAY_ADMIN_TOKEN',
      `is required when HOST=${host} is reachable from other machines: anyone could reconfigure the network. Set a token (at least ${ADMIN_TOKEN_MIN_CHARS} characters), or GATEWAY_ADMIN_TOKEN=none to leave the operator endpoints open on purpose`,
    );
  }
  if (token.length < ADMIN_TOKEN_MIN_CHARS)
    throw new ConfigError(
      'GATEWAY_ADMIN_TOKEN',
      `must be at least ${ADMIN_TOKEN_MIN_CHARS} characters, got ${token.length}`,
    );
  return token;
}

export function loadGatewayConfig(env: Env): GatewayConfig {
  const host = env.HOST || '127.0.0.1';
  const members = parseMembers(env.CHAT_MEMBERS);
  const id = env.GATEWAY_ID || 'gateway';
  if (!NODE_ID_PATTERN.test(id))
    throw new ConfigError(
      'GATEWAY_ID',
      `"${id}" must be a letter then up to 31 letters, digits, _ or -`,
    );
  if (members.some((m) => m.id === id))
    throw new ConfigError('GATEWAY_ID', `"${id}" is also a node's id`);
  return {
    port: envInteger(env, 'PORT', 3000, 0, 65535),
    host,
    exposed: !isLoopback(host),
    members,
    id,
    curve: loadClusterKeys(
      env,
      id,
      members.map((m) => m.id),
    ),
    adminToken: adminToken(env, host),
    nodeTimeoutMs: envInteger(env, 'GATEWAY_NODE_TIMEOUT_MS', 3000, 50, 120_000),
    connectTimeoutMs: envInteger(env, 'GATEWAY_CONNECT_TIMEOUT_MS', 300, 10, 60_000),
    rateLimit: envInteger(env, 'GATEWAY_RATE_LIMIT', 2000, 0, 10_000_000),
    corsOrigin: env.GATEWAY_CORS_ORIGIN ? env.GATEWAY_CORS_ORIGIN : false,
    bodyLimitBytes: envInteger(env, 'GATEWAY_BODY_LIMIT_BYTES', 64 * 1024, 1024, 16 * 1024 * 1024),
    ...(env.CHAT_LAUNCHER_URL
      ? {
          launcher: {
            url: env.CHAT_LAUNCHER_URL.replace(/\/$/, ''),
            token: env.CHAT_LAUNCHER_TOKEN ?? '',
          },
        }
      : {}),
  };
}

export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');
