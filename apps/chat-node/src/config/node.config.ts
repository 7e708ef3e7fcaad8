import {
  ClusterKeys,
  ConfigError,
  Env,
  envInteger,
  loadClusterKeys,
  Member,
  memberAt,
  Limits,
  NODE_ID_PATTERN,
  parseCurveKeyOrConfigError,
  parseMembers,
} from '@app/contracts';
import { ClockLimits, SYNC_MODES } from '@app/contracts';
import type { LinkSettings, SyncMode } from '@app/contracts';
import { MAX_AHEAD_LIMIT } from '@app/causal';

export interface NodeConfig {
  readonly nodeId: string;
  readonly members: readonly Member[];
  readonly self: Member;
  /** Where this node binds (its own host unless CHAT_BIND_HOST says e.g. `0.0.0.0`). */
  readonly bindRpc: string;
  readonly bindPub: string;
  readonly dataDir: string;
  readonly bufferCapacity: number;
  readonly maxAhead: number;
  readonly link: LinkSettings;
  readonly seed: number;
  readonly heartbeatMs: number;
  readonly repairMs: number;
  readonly requestTimeoutMs: number;
  /** Messages asked for in one repair fetch (a catch-up goes page by page). */
  readonly fetchPage: number;
  readonly synchronous: 'full' | 'normal';
  /** Fault injection: the Nth fsync of the log fails with EIO (0: never). For tests. */
  readonly failFsyncAt: number;
  /** CURVE keys; undefined when CHAT_CURVE=off (plaintext, said at start). */
  readonly curve?: ClusterKeys;
  /**
   * Set when the node joins a running cluster (`CHAT_JOIN`): the member to ask, and that
   * member's public key (`CHAT_JOIN_KEY`) when CURVE is on. `members` is then just this node
   * until the grant (or, after a restart, the data file) says who the members are.
   */
  readonly join?: {
    readonly address: string;
    readonly rpc: string;
    readonly publicKey?: string;
    /** How long to keep asking for the grant (ms). */
    readonly timeoutMs: number;
  };
  /** How long a retirement waits for the leaving member's messages to arrive here (ms). */
  readonly retireWaitMs: number;
  /** How many copies a paused inbox parks before it refuses more (repair fetches them later). */
  readonly inboxCapacity: number;
  /** The simulated physical clock at start, and how often peers' clocks are sampled. */
  readonly clock: {
    readonly offsetMs: number;
    readonly driftPpm: number;
    readonly pingMs: number;
    readonly sync: SyncMode;
  };
}

function rate(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    throw new ConfigError(name, `must be a number from 0 to 1, got "${raw}"`);
  }
  return value;
}

function syncMode(env: Env): SyncMode {
  const raw = env.CHAT_CLOCK_SYNC;
  if (raw === undefined || raw === '') return 'off';
  if (!(SYNC_MODES as readonly string[]).includes(raw))
    throw new ConfigError(
      'CHAT_CLOCK_SYNC',
      `must be one of ${SYNC_MODES.join(', ')}, got "${raw}"`,
    );
  return raw as SyncMode;
}

/** Reads and validates the node's configuration once, at start-up. */
export function loadNodeConfig(env: Env): NodeConfig {
  const joining = env.CHAT_JOIN !== undefined && env.CHAT_JOIN !== '';
  if (joining && env.CHAT_MEMBERS)
    throw new ConfigError(
      'CHAT_JOIN',
      'and CHAT_MEMBERS are both set: a founding member gets CHAT_MEMBERS, a joiner CHAT_JOIN',
    );
  const nodeId = env.CHAT_NODE_ID;
  let members: Member[];
  let self: Member | undefined;
  let join: NodeConfig['join'];
  if (joining) {
    if (!nodeId) throw new ConfigError('CHAT_NODE_ID', 'is required: the id it was admitted under');
    if (!NODE_ID_PATTERN.test(nodeId))
      throw new ConfigError(
        'CHAT_NODE_ID',
        `"${nodeId}" must be a letter then up to 31 letters, digits, _ or -`,
      );
    if (!env.CHAT_NODE_ADDRESS)
      throw new ConfigError(
        'CHAT_NODE_ADDRESS',
        'is required with CHAT_JOIN: host:port of this node (its ROUTER; PUB on port + 1)',
      );
    self = memberAt(nodeId, env.CHAT_NODE_ADDRESS, 'CHAT_NODE_ADDRESS');
    const target = memberAt('join', env.CHAT_JOIN!, 'CHAT_JOIN');
    join = {
      address: env.CHAT_JOIN!,
      rpc: target.rpc,
      timeoutMs: envInteger(env, 'CHAT_JOIN_TIMEOUT_MS', 30_000, 500, 600_000),
    };
    members = [self];
  } else {
    members = parseMembers(env.CHAT_MEMBERS);
    if (!nodeId)
      throw new ConfigError(
        'CHAT_NODE_ID',
        `is required: one of ${members.map((m) => m.id).join(', ')}`,
      );
    self = members.find((m) => m.id === nodeId);
    if (!self) {
      throw new ConfigError(
        'CHAT_NODE_ID',
        `"${nodeId}" is not in CHAT_MEMBERS (${members.map((m) => m.id).join(', ')})`,
      );
    }
  }
  const curve = loadClusterKeys(
    env,
    nodeId,
    members.map((m) => m.id),
  );
  if (join && curve) {
    if (!env.CHAT_JOIN_KEY)
      throw new ConfigError(
        'CHAT_JOIN_KEY',
        'is required with CHAT_JOIN while CURVE is on: the public key (Z85) of the member at CHAT_JOIN',
      );
    join = { ...join, publicKey: parseCurveKeyOrConfigError(env.CHAT_JOIN_KEY, 'CHAT_JOIN_KEY') };
  }
  const bindHost = env.CHAT_BIND_HOST;
  const rebind = (endpoint: string) =>
    bindHost ? endpoint.replace(/^tcp:\/\/[^:]+:/, `tcp://${bindHost}:`) : endpoint;
  const synchronous = (env.CHAT_SQLITE_SYNC ?? 'full').toLowerCase();
  if (synchronous !== 'full' && synchronous !== 'normal') {
    throw new ConfigError(
      'CHAT_SQLITE_SYNC',
      `must be "full" or "normal", got "${env.CHAT_SQLITE_SYNC}"`,
    );
  }
  return {
    nodeId,
    members,
    self,
    bindRpc: rebind(self.rpc),
    bindPub: rebind(self.pub),
    dataDir: env.DATA_DIR || './data',
    bufferCapacity: envInteger(env, 'CHAT_BUFFER_CAPACITY', 10_000, 1, 10_000_000),
    maxAhead: envInteger(env, 'CHAT_MAX_AHEAD', 1_000_000, 1, MAX_AHEAD_LIMIT),
    link: {
      delayMs: envInteger(env, 'CHAT_LINK_DELAY_MS', 30, 0, 60_000),
      jitterMs: envInteger(env, 'CHAT_LINK_JITTER_MS', 120, 0, 60_000),
      dropRate: rate(env, 'CHAT_LINK_DROP_RATE', 0),
      duplicateRate: rate(env, 'CHAT_LINK_DUPLICATE_RATE', 0),
      partitioned: false,
    },
    seed: envInteger(env, 'CHAT_SEED', Math.floor(Math.random() * 2 ** 31), 0, 2 ** 32 - 1),
    heartbeatMs: envInteger(env, 'CHAT_HEARTBEAT_MS', 500, 20, 60_000),
    repairMs: envInteger(env, 'CHAT_REPAIR_MS', 250, 10, 60_000),
    requestTimeoutMs: envInteger(env, 'CHAT_REQUEST_TIMEOUT_MS', 2_000, 50, 120_000),
    fetchPage: envInteger(env, 'CHAT_FETCH_PAGE', Limits.fetchBatchMax, 1, Limits.fetchBatchMax),
    synchronous,
    failFsyncAt: envInteger(env, 'CHAT_FAULT_FSYNC_FAIL_AT', 0, 0, 1_000_000_000),
    curve,
    ...(join ? { join } : {}),
    retireWaitMs: envInteger(env, 'CHAT_RETIRE_WAIT_MS', 15_000, 100, 600_000),
    inboxCapacity: envInteger(env, 'CHAT_INBOX_CAPACITY', 10_000, 1, 1_000_000),
    clock: {
      offsetMs: envInteger(
        env,
        'CHAT_CLOCK_OFFSET_MS',
        0,
        -ClockLimits.offsetMs,
        ClockLimits.offsetMs,
      ),
      driftPpm: envInteger(
        env,
        'CHAT_CLOCK_DRIFT_PPM',
        0,
        -ClockLimits.driftPpm,
        ClockLimits.driftPpm,
      ),
      pingMs: envInteger(env, 'CHAT_CLOCK_PING_MS', 1_000, 50, 60_000),
      sync: syncMode(env),
    },
  };
}
