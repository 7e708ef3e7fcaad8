/** A hybrid logical timestamp: milliseconds of (a) physical clock, then a counter. */
export interface Hlc {
  readonly wallMs: number;
  readonly logical: number;
}

/** Thrown by {@link parseHlc}; `field` names the offending part. */
export class InvalidHlcError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`hlc${field ? `.${field}` : ''}: ${reason}`);
    this.name = 'InvalidHlcError';
  }
}

/** A timestamp from a peer further ahead of this node's physical clock than the bound allows. */
export class HlcTooFarAheadError extends Error {
  constructor(
    readonly hlc: Hlc,
    readonly physicalMs: number,
    readonly maxAheadMs: number,
  ) {
    super(
      `hlc.wallMs ${hlc.wallMs} is ${hlc.wallMs - physicalMs} ms ahead of this node's clock; at most ${maxAheadMs} ms is accepted`,
    );
    this.name = 'HlcTooFarAheadError';
  }
}

/** The counter stays a small integer: the paper bounds it by the messages of one ms. */
export const HLC_MAX_LOGICAL = 0xffff_ffff;

/** Orders timestamps by `wallMs`, then `logical`. */
export function compareHlc(a: Hlc, b: Hlc): number {
  return a.wallMs !== b.wallMs ? a.wallMs - b.wallMs : a.logical - b.logical;
}

/** Validates an untrusted timestamp: non-negative safe integers, the counter bounded. */
export function parseHlc(untrusted: unknown): Hlc {
  if (typeof untrusted !== 'object' || untrusted === null || Array.isArray(untrusted))
    throw new InvalidHlcError('', 'must be an object {wallMs, logical}');
  const { wallMs, logical } = untrusted as Record<string, unknown>;
  if (typeof wallMs !== 'number' || !Number.isSafeInteger(wallMs) || wallMs < 0)
    throw new InvalidHlcError('wallMs', `must be a non-negative integer, got ${String(wallMs)}`);
  if (
    typeof logical !== 'number' ||
    !Number.isSafeInteger(logical) ||
    logical < 0 ||
    logical > HLC_MAX_LOGICAL
  )
    throw new InvalidHlcError('logical', `must be an integer 0..${HLC_MAX_LOGICAL}`);
  return { wallMs, logical };
}

/**
 * A hybrid logical clock (Kulkarni, Demirbas et al., "Logical Physical Clocks", 2014). Its
 * `wallMs` is the largest physical reading this node has seen, its own or in a timestamp it
 * received, so it respects happened-before like a Lamport clock and stays within the
 * cluster's clock skew of real time; `logical` orders events within one `wallMs`.
 *
 * Pure: the physical clock is injected, and it may step back or race ahead — the HLC never
 * goes back (it waits for the physical clock with its counter).
 */
export class HybridClock {
  private wallMs: number;
  private logical: number;

  /**
   * @param now the node's physical clock in ms (fractions are dropped)
   * @param initial a timestamp to resume above (the last one a restarted node had)
   * @param maxAheadMs how far ahead of `now()` a received timestamp may be (the paper's ε;
   *   beyond it `receive` refuses it rather than drag this clock into the future)
   */
  constructor(
    private readonly now: () => number,
    initial: Hlc = { wallMs: 0, logical: 0 },
    private readonly maxAheadMs = Number.MAX_SAFE_INTEGER,
  ) {
    this.wallMs = initial.wallMs;
    this.logical = initial.logical;
  }

  get current(): Hlc {
    return { wallMs: this.wallMs, logical: this.logical };
  }

  /**
   * Throws HlcTooFarAheadError when `remote` is further ahead of the physical clock than the
   * bound; returns the physical reading otherwise. A node checks before it accepts a message,
   * so a refused timestamp never reaches the hold-back buffer.
   */
  checkBound(remote: Hlc): number {
    const physical = Math.floor(this.now());
    if (remote.wallMs - physical > this.maxAheadMs)
      throw new HlcTooFarAheadError(remote, physical, this.maxAheadMs);
    return physical;
  }

  /** A local or send event: the paper's send rule. */
  tick(): Hlc {
    const physical = Math.floor(this.now());
    if (physical > this.wallMs) {
      this.wallMs = physical;
      this.logical = 0;
    } else {
      this.logical++;
    }
    return { wallMs: this.wallMs, logical: this.logical };
  }

  /** Merges a received timestamp (the paper's receive rule); returns the new timestamp. */
  receive(remote: Hlc): Hlc {
    const physical = this.checkBound(remote);
    const previous = this.wallMs;
    const wall = Math.max(previous, remote.wallMs, physical);
    if (wall === previous && wall === remote.wallMs)
      this.logical = Math.max(this.logical, remote.logical) + 1;
    else if (wall === previous) this.logical++;
    else if (wall === remote.wallMs) this.logical = remote.logical + 1;
    else this.logical = 0;
    this.wallMs = wall;
    return { wallMs: this.wallMs, logical: this.logical };
  }
}
