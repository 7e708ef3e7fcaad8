import type { ClockSettings } from '@app/contracts';

/** The operating system's wall clock in ms: true time, as far as this simulation goes. */
export type TrueTime = () => number;

/**
 * A node's physical clock: the operating system's time plus a simulated offset and drift of
 * its own, plus the correction a synchronization algorithm applies. It is the only source of
 * wall time in a node (sentAt, deliveredAt, trace times, the HLC). Timers and timeouts never
 * read it: they use monotonic time, so a clock stepped back or forward breaks nothing.
 *
 * Drift is a rate: the error grows by `driftPpm` µs per second of true time. Changing the
 * offset or the drift restarts the accumulation from the current error, so a new drift does
 * not step the clock.
 */
export class PhysicalClock {
  /** The error from true time at `since` (true ms). */
  private baseOffsetMs: number;
  private since: number;
  private rate: number;
  /** What synchronization adds (ms); 0 while it is off. */
  correctionMs = 0;
  /** The last ms turned into ISO text, and the text: a busy node stamps many per ms. */
  private isoMs = NaN;
  private isoText = '';

  constructor(
    private readonly trueTime: TrueTime = Date.now,
    offsetMs = 0,
    driftPpm = 0,
  ) {
    this.baseOffsetMs = offsetMs;
    this.rate = driftPpm;
    this.since = trueTime();
  }

  /** True time now (ms): the operating system's clock. */
  trueNow(): number {
    return this.trueTime();
  }

  /** The raw clock's error from true time now: the offset plus the drift accumulated since. */
  offsetMs(at = this.trueTime()): number {
    return this.baseOffsetMs + (this.rate * (at - this.since)) / 1e6;
  }

  get driftPpm(): number {
    return this.rate;
  }

  /** The raw physical clock (ms). */
  raw(): number {
    const t = this.trueTime();
    return t + this.offsetMs(t);
  }

  /** The clock the node uses (ms): raw plus the synchronization's correction. */
  now(): number {
    return this.raw() + this.correctionMs;
  }

  /** `now()` as ISO text, as messages carry it. */
  iso(): string {
    return this.text(this.now());
  }

  /** True time as ISO text. */
  trueIso(): string {
    return this.text(this.trueTime());
  }

  private text(ms: number): string {
    const whole = Math.floor(ms);
    if (whole !== this.isoMs) {
      this.isoMs = whole;
      this.isoText = new Date(whole).toISOString();
    }
    return this.isoText;
  }

  /** Sets the offset and/or drift; what is left out keeps its current value. */
  set(settings: ClockSettings): void {
    const t = this.trueTime();
    this.baseOffsetMs = settings.offsetMs ?? this.offsetMs(t);
    this.rate = settings.driftPpm ?? this.rate;
    this.since = t;
  }
}
