/** How two clocks relate in the happened-before order. */
export type ClockOrder = 'before' | 'after' | 'equal' | 'concurrent';

/** A clock as JSON shows it: node id -> count. Absent ids count as 0. */
export type ClockRecord = Readonly<Record<string, number>>;

/** Thrown by {@link VectorClock.parse}; `field` names the offending entry. */
export class InvalidClockError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`clock${field ? `.${field}` : ''}: ${reason}`);
    this.name = 'InvalidClockError';
  }
}

/**
 * An immutable vector clock over node ids. Only non-zero entries are stored, so the
 * number of members is never fixed and an absent id simply reads as 0. Entries live in two
 * small parallel arrays: for the handful of members a chat cluster has, a linear scan beats
 * a hash map and a clock costs three small allocations.
 */
export class VectorClock {
  static readonly zero = new VectorClock([], []);

  /** The non-zero entries as parallel arrays, for hot loops that must not allocate. */
  private constructor(
    readonly ids: readonly string[],
    readonly counts: readonly number[],
  ) {}

  /** Builds a clock from trusted data (tests, storage). Zero entries are dropped. */
  static of(record: ClockRecord | Iterable<readonly [string, number]>): VectorClock {
    const pairs = (Symbol.iterator in record ? record : Object.entries(record)) as Iterable<
      readonly [string, number]
    >;
    const entries = new Map<string, number>();
    for (const [id, value] of pairs) {
      if (value !== 0) entries.set(id, value);
    }
    return VectorClock.fromMap(entries);
  }

  private static fromMap(entries: ReadonlyMap<string, number>): VectorClock {
    return VectorClock.fromArrays([...entries.keys()], [...entries.values()]);
  }

  /** Non-zero entries as two parallel arrays of distinct ids. */
  private static fromArrays(ids: string[], counts: number[]): VectorClock {
    return ids.length === 0 ? VectorClock.zero : new VectorClock(internIds(ids), counts);
  }

  /**
   * Validates an untrusted clock (from the network or a request). It must be a plain
   * object whose keys are all members and whose values are non-negative safe integers.
   */
  static parse(untrusted: unknown, members: ReadonlySet<string> | readonly string[]): VectorClock {
    const known: ReadonlySet<string> = members instanceof Set ? members : new Set(members);
    if (typeof untrusted !== 'object' || untrusted === null || Array.isArray(untrusted)) {
      throw new InvalidClockError('', 'must be an object of node id -> count');
    }
    const proto = Object.getPrototypeOf(untrusted);
    if (proto !== Object.prototype && proto !== null) {
      throw new InvalidClockError('', 'must be a plain object');
    }
    const keys = Object.keys(untrusted);
    if (keys.length > known.size) {
      throw new InvalidClockError(
        '',
        `has ${keys.length} entries; the cluster has ${known.size} members`,
      );
    }
    // An object's own keys are distinct, so the entries go straight into the two arrays.
    const ids: string[] = [];
    const counts: number[] = [];
    for (const key of keys) {
      // Only own, known ids: a "__proto__" or "constructor" key can never be a member
      // id because member ids are validated at start-up, so this also stops prototype games.
      if (!known.has(key)) throw new InvalidClockError(key, 'is not a member of the cluster');
      const value = (untrusted as Record<string, unknown>)[key];
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
        throw new InvalidClockError(
          key,
          `must be a non-negative safe integer, got ${String(value)}`,
        );
      }
      if (value !== 0) {
        ids.push(key);
        counts.push(value);
      }
    }
    return VectorClock.fromArrays(ids, counts);
  }

  get(id: string): number {
    const { ids } = this;
    for (let i = 0; i < ids.length; i++) if (ids[i] === id) return this.counts[i];
    return 0;
  }

  /** Iterates the non-zero entries. */
  *nonZero(): IterableIterator<[string, number]> {
    for (let i = 0; i < this.ids.length; i++) yield [this.ids[i], this.counts[i]];
  }

  private toMap(): Map<string, number> {
    return new Map(this.nonZero());
  }

  tick(id: string): VectorClock {
    return this.with(id, this.get(id) + 1);
  }

  /** Returns a copy with `id` set to `value` (0 removes it). */
  with(id: string, value: number): VectorClock {
    const at = this.ids.indexOf(id);
    if (at >= 0 && value !== 0) {
      // the common case, a tick: same ids (shared), one count changed
      const counts = this.counts.slice();
      counts[at] = value;
      return new VectorClock(this.ids, counts);
    }
    const entries = this.toMap();
    if (value === 0) entries.delete(id);
    else entries.set(id, value);
    return VectorClock.fromMap(entries);
  }

  /** Entry-wise maximum. */
  merge(other: VectorClock): VectorClock {
    const entries = this.toMap();
    for (let i = 0; i < other.ids.length; i++) {
      const id = other.ids[i];
      if (other.counts[i] > (entries.get(id) ?? 0)) entries.set(id, other.counts[i]);
    }
    return VectorClock.fromMap(entries);
  }

  compare(other: VectorClock): ClockOrder {
    let less = false;
    let greater = false;
    for (let i = 0; i < this.ids.length; i++) {
      const theirs = other.get(this.ids[i]);
      if (this.counts[i] < theirs) less = true;
      else if (this.counts[i] > theirs) greater = true;
    }
    for (let i = 0; i < other.ids.length; i++) {
      if (this.get(other.ids[i]) === 0) less = true;
    }
    if (less && greater) return 'concurrent';
    if (less) return 'before';
    if (greater) return 'after';
    return 'equal';
  }

  /** True when this clock happened strictly before `other`. */
  happenedBefore(other: VectorClock): boolean {
    return this.compare(other) === 'before';
  }

  /** Sum of all entries: how many events this clock has seen. */
  total(): number {
    let sum = 0;
    for (const value of this.counts) sum += value;
    return sum;
  }

  /** The clock as a record listing every member (zeros included) in member order. */
  toRecord(members: readonly string[]): Record<string, number> {
    const record: Record<string, number> = {};
    for (const id of members) record[id] = this.get(id);
    const { ids, counts } = this;
    for (let i = 0; i < ids.length; i++) if (!(ids[i] in record)) record[ids[i]] = counts[i];
    return record;
  }

  /** Compact form in member order, as the seed showed it: `[1,1,0]`. */
  toArray(members: readonly string[]): number[] {
    return members.map((id) => this.get(id));
  }

  /** The non-zero entries, ids in sorted order (one canonical form per clock). */
  toJSON(): Record<string, number> {
    const { ids, counts } = this;
    let sorted = true;
    for (let i = 1; i < ids.length && sorted; i++) sorted = ids[i - 1] < ids[i];
    const record: Record<string, number> = {};
    if (sorted) {
      for (let i = 0; i < ids.length; i++) record[ids[i]] = counts[i];
      return record;
    }
    const order = ids.map((_, i) => i).sort((a, b) => (ids[a] < ids[b] ? -1 : 1));
    for (const i of order) record[ids[i]] = counts[i];
    return record;
  }

  toString(): string {
    return JSON.stringify(this.toJSON());
  }
}

/**
 * Clocks of one cluster list the same few id sets over and over, so they share one frozen
 * `ids` array per set. A buffer visiting thousands of held clocks then finds the ids in
 * cache and reads one cold array per clock instead of two. Bounded: past the limit (ids
 * sets are not coming from a cluster's members) arrays are simply not shared.
 */
const INTERNED_LIMIT = 4096;
const interned = new Map<string, readonly string[]>();

function internIds(ids: string[]): readonly string[] {
  const key = ids.join('\u0000');
  const shared = interned.get(key);
  if (shared !== undefined) return shared;
  if (interned.size < INTERNED_LIMIT) interned.set(key, Object.freeze(ids));
  return ids;
}
