import type { Hlc } from '@app/causal';

export type { Hlc };

/** The synchronization algorithms a node runs (`off`: raw physical clocks). */
export const SYNC_MODES = ['off', 'berkeley', 'cristian'] as const;
export type SyncMode = (typeof SYNC_MODES)[number];

/** How wrong a simulated physical clock may be made: ±7 days, ±1,000 ppm. */
export const ClockLimits = {
  offsetMs: 7 * 24 * 3600 * 1000,
  driftPpm: 1_000,
} as const;

/** A change of a node's simulated physical clock; either field may be left out. */
export interface ClockSettings {
  readonly offsetMs?: number;
  readonly driftPpm?: number;
}

/** Thrown when clock settings or a sync mode are out of range; `field` names the part. */
export class InvalidClockSettingError extends Error {
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'InvalidClockSettingError';
  }
}

/** Validates `{offsetMs?, driftPpm?}` from the network, naming the field and its limit. */
export function parseClockSettings(untrusted: unknown): ClockSettings {
  if (typeof untrusted !== 'object' || untrusted === null || Array.isArray(untrusted))
    throw new InvalidClockSettingError('body', 'must be an object {offsetMs?, driftPpm?}');
  const out: { offsetMs?: number; driftPpm?: number } = {};
  for (const [key, value] of Object.entries(untrusted)) {
    if (key !== 'offsetMs' && key !== 'driftPpm')
      throw new InvalidClockSettingError(key, 'is not a clock setting (offsetMs, driftPpm)');
    const limit = ClockLimits[key];
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new InvalidClockSettingError(key, `must be a number, got ${JSON.stringify(value)}`);
    if (Math.abs(value) > limit)
      throw new InvalidClockSettingError(
        key,
        `must be within ±${limit}${key === 'offsetMs' ? ' ms (7 days)' : ' ppm'}, got ${value}`,
      );
    out[key] = value;
  }
  return out;
}

/** Validates a sync mode, listing the ones offered. */
export function parseSyncMode(untrusted: unknown): SyncMode {
  if (typeof untrusted !== 'string' || !(SYNC_MODES as readonly string[]).includes(untrusted))
    throw new InvalidClockSettingError(
      'mode',
      `must be one of ${SYNC_MODES.join(', ')}, got ${JSON.stringify(untrusted)}`,
    );
  return untrusted as SyncMode;
}

/** One node's estimate of a peer's clock: NTP's best recent sample by round trip. */
export interface PeerTimeEstimate {
  /** peer's clock − this node's clock (the clocks each uses: corrected while sync is on). */
  readonly offsetMs: number;
  /** The bound of the estimate: half the sample's round trip. */
  readonly errorMs: number;
  readonly rttMs: number;
  /** Samples kept for this peer (the recent ones, taken since its last correction). */
  readonly samples: number;
  /** When the chosen sample was taken (this node's clock, ISO). */
  readonly at: string;
}

/** The result of the last synchronization round a node took part in. */
export interface SyncRound {
  readonly mode: SyncMode;
  /** Who led the round (Berkeley's master, Cristian's reference). */
  readonly leader: string;
  /** The change this node applied to its correction (ms). */
  readonly adjustedMs: number;
  readonly at: string;
}

/** A node's clocks: what `node.state` shows as `time` and `clock.get` answers. */
export interface TimeView {
  readonly nodeId: string;
  /** The simulated physical clock's error from true time now (offset plus accumulated drift). */
  readonly offsetMs: number;
  readonly driftPpm: number;
  /** The clock the node uses: raw, or corrected while sync is on (ISO). */
  readonly now: string;
  /** The raw physical clock (ISO). */
  readonly rawNow: string;
  /** What synchronization adds to the raw clock (0 while sync is off). */
  readonly correctionMs: number;
  readonly sync: SyncMode;
  readonly lastRound: SyncRound | null;
  /** This node's HLC now. */
  readonly hlc: Hlc;
  readonly peers: Record<string, PeerTimeEstimate>;
}

/** `time.ping` between nodes: the request carries t0, the reply t1 and t2 (ms, each node's clock). */
export interface TimePing {
  readonly from: string;
  readonly t0: number;
}

export interface TimePong {
  readonly from: string;
  readonly t1: number;
  readonly t2: number;
  /** Corrections the replying node has applied: samples from before its last one are stale. */
  readonly epoch: number;
  /** The replier's sync mode and when (true time, ms) it was set: the newest setting spreads. */
  readonly sync: { readonly mode: SyncMode; readonly setAt: number };
}

/** Berkeley's master tells a node how much to move its clock. */
export interface TimeAdjust {
  readonly from: string;
  readonly deltaMs: number;
}
