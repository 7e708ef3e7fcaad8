import type { LinkSettings } from '@app/contracts';
import { seededRandom } from './seeded-random';

export class InvalidLinkSettingsError extends Error {
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'InvalidLinkSettingsError';
  }
}

const LIMITS: Record<keyof LinkSettings, string> = {
  delayMs: 'integer 0..60000',
  jitterMs: 'integer 0..60000',
  dropRate: 'number 0..1',
  duplicateRate: 'number 0..1',
  partitioned: 'boolean',
};

/** Validates a partial settings object from the network; names the offending field. */
export function parseLinkSettings(untrusted: unknown): Partial<LinkSettings> {
  if (typeof untrusted !== 'object' || untrusted === null || Array.isArray(untrusted)) {
    throw new InvalidLinkSettingsError('settings', 'must be an object');
  }
  const out: Record<string, number | boolean> = {};
  for (const [key, value] of Object.entries(untrusted)) {
    if (!(key in LIMITS)) {
      throw new InvalidLinkSettingsError(
        key,
        `is not a link setting (${Object.keys(LIMITS).join(', ')})`,
      );
    }
    const field = key as keyof LinkSettings;
    const ok =
      field === 'partitioned'
        ? typeof value === 'boolean'
        : field === 'delayMs' || field === 'jitterMs'
          ? Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= 60_000
          : typeof value === 'number' && value >= 0 && value <= 1;
    if (!ok)
      throw new InvalidLinkSettingsError(
        field,
        `must be a ${LIMITS[field]}, got ${JSON.stringify(value)}`,
      );
    out[field] = value as number | boolean;
  }
  return out as Partial<LinkSettings>;
}

export interface LinkCounters {
  dropped: number;
  duplicated: number;
}

/**
 * One inbound link (peer -> this node): decides, with a seeded random source, whether an
 * arriving packet is dropped, duplicated and how long each copy is delayed. Jitter is what
 * reorders messages; a partition drops everything.
 */
export class LinkSimulator {
  readonly counters: LinkCounters = { dropped: 0, duplicated: 0 };
  private settings: LinkSettings;
  private readonly random: () => number;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    readonly from: string,
    private readonly defaults: LinkSettings,
    seed: number,
  ) {
    this.settings = { ...defaults };
    this.random = seededRandom(seed);
  }

  get current(): LinkSettings {
    return { ...this.settings };
  }

  get partitioned(): boolean {
    return this.settings.partitioned;
  }

  update(change: Partial<LinkSettings>): LinkSettings {
    this.settings = { ...this.settings, ...change };
    return this.current;
  }

  reset(): LinkSettings {
    this.settings = { ...this.defaults };
    return this.current;
  }

  /**
   * Passes one packet through the link: `deliver` runs 0, 1 or 2 times, now or later, told
   * which copy it is (0 the packet, 1 the duplicate the link made); `lost` runs when the link
   * loses it.
   */
  pass(deliver: (copy: number) => void, lost?: () => void): void {
    if (this.lost()) {
      lost?.();
      return;
    }
    const copies =
      this.settings.duplicateRate > 0 && this.random() < this.settings.duplicateRate ? 2 : 1;
    if (copies === 2) this.counters.duplicated++;
    for (let i = 0; i < copies; i++) {
      const delay = this.delay();
      if (delay === 0) {
        deliver(i);
        continue;
      }
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        // A partition raised while a packet was in flight cuts it too.
        if (this.settings.partitioned) {
          this.counters.dropped++;
          lost?.();
        } else deliver(i);
      }, delay);
      this.timers.add(timer);
    }
  }

  /**
   * For request/reply traffic (repair fetches): resolves true after the link's delay, or
   * false when the link loses the packet. Requests are never duplicated.
   */
  async admit(): Promise<boolean> {
    if (this.lost()) return false;
    const delay = this.delay();
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay).unref());
    return !this.settings.partitioned;
  }

  private lost(): boolean {
    const s = this.settings;
    if (s.partitioned || (s.dropRate > 0 && this.random() < s.dropRate)) {
      this.counters.dropped++;
      return true;
    }
    return false;
  }

  private delay(): number {
    const s = this.settings;
    return s.delayMs + (s.jitterMs > 0 ? Math.floor(this.random() * s.jitterMs) : 0);
  }

  /** Drops packets still in flight (shutdown). */
  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
