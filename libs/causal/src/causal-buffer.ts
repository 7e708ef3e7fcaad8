import { VectorClock } from './vector-clock';

/** What the buffer needs of a message: who broadcast it, its number there, its clock. */
export interface CausalMessage {
  readonly sender: string;
  /** `clock[sender]`: the sender's count of its own broadcasts, 1-based. */
  readonly seq: number;
  readonly clock: VectorClock;
}

/** The next message a held-back message needs from `node`. */
export interface Waiting {
  readonly node: string;
  readonly seq: number;
}

export interface HeldBack<M> {
  readonly message: M;
  readonly waitingFor: Waiting[];
}

/** Messages `fromSeq..toSeq` (inclusive) of `node` that this replica has never seen. */
export interface Gap {
  readonly node: string;
  readonly fromSeq: number;
  readonly toSeq: number;
}

export interface CausalBufferOptions {
  /** The most messages held back at once; one more is refused with {@link HoldBackOverflowError}. */
  readonly capacity: number;
  /** The most any entry of an arriving clock may run ahead of ours. */
  readonly maxAhead?: number;
  /** Delivered counts to start from (a restart reloads them from storage). */
  readonly initial?: VectorClock;
  /** Named in errors so a person knows which replica refused. */
  readonly nodeId?: string;
}

export interface CausalBufferStats {
  delivered: number;
  duplicates: number;
  overflows: number;
  tooFarAhead: number;
  maxHeld: number;
}

export class HoldBackOverflowError extends Error {
  constructor(
    readonly nodeId: string,
    readonly capacity: number,
    readonly sender: string,
    readonly seq: number,
  ) {
    super(
      `node ${nodeId}: hold-back queue is full (capacity ${capacity}); refused ${sender}:${seq}`,
    );
    this.name = 'HoldBackOverflowError';
  }
}

export class TooFarAheadError extends Error {
  constructor(
    readonly nodeId: string,
    readonly node: string,
    readonly value: number,
    readonly local: number,
    readonly maxAhead: number,
  ) {
    super(
      `node ${nodeId}: clock entry ${node}=${value} is more than ${maxAhead} ahead of local ${local}`,
    );
    this.name = 'TooFarAheadError';
  }
}

export class InvalidCausalMessageError extends Error {
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'InvalidCausalMessageError';
  }
}

/**
 * A held-back message. `cursor` is how far its clock has been checked (entries before it are
 * met, and local counts only grow); `next` links messages parked on the same local count.
 */
interface Parked<M extends CausalMessage> {
  readonly message: M;
  /** The lane of the message's sender, where it is held. */
  readonly lane: Lane<M>;
  cursor: number;
  next: Parked<M> | undefined;
}

const NOTHING: never[] = [];
Object.freeze(NOTHING);

/** The widest window a lane may have to index; also the most `maxAhead` may be. */
export const MAX_AHEAD_LIMIT = 1 << 22;
const MIN_RING = 16;

/**
 * What the buffer knows about one node: how many of its messages were delivered and, for
 * the numbers just above that, two rings indexed by `n & mask` (valid for
 * `delivered < n <= delivered + mask + 1`):
 * - `held[n]`: this node's own message number n, when it is held back;
 * - `waiting[n]`: the messages (of any sender) that wait until this node's count reaches n.
 * Slots at or below `delivered` are always empty, so a ring never needs clearing, and
 * everything is an array access: no hashing on the hot path.
 */
class Lane<M extends CausalMessage> {
  delivered: number;
  held = ring<Parked<M>>(MIN_RING);
  waiting = ring<Parked<M>>(MIN_RING);
  mask = MIN_RING - 1;
  /** Held messages of this node: lets `pending()` and `missing()` skip empty lanes. */
  heldCount = 0;
  /** The highest seq ever held here since the lane was last empty: where scans stop. */
  heldTop = 0;

  constructor(delivered: number) {
    this.delivered = delivered;
  }

  heldAt(seq: number): Parked<M> | undefined {
    return seq - this.delivered <= this.mask + 1 ? this.held[seq & this.mask] : undefined;
  }

  /** True when this node's message `seq` is held here. */
  holds(seq: number): boolean {
    return this.heldAt(seq)?.message.seq === seq;
  }

  /** Makes the rings wide enough to index `n`. */
  reach(n: number): void {
    const span = n - this.delivered;
    if (span <= this.mask + 1) return;
    let size = (this.mask + 1) * 2;
    while (size < span) size *= 2;
    const mask = size - 1;
    const held = ring<Parked<M>>(size);
    const waiting = ring<Parked<M>>(size);
    for (let k = this.delivered + 1; k <= this.delivered + this.mask + 1; k++) {
      held[k & mask] = this.held[k & this.mask];
      waiting[k & mask] = this.waiting[k & this.mask];
    }
    this.held = held;
    this.waiting = waiting;
    this.mask = mask;
  }
}

function ring<T>(size: number): (T | undefined)[] {
  return new Array<T | undefined>(size).fill(undefined);
}

/**
 * The hold-back queue of causal broadcast (Birman–Schiper–Stephenson). A message m from s
 * is delivered once `m.clock[s] == local[s] + 1` and `m.clock[k] <= local[k]` for every
 * other k. Nothing is ever rescanned:
 * - a message whose sender's previous message is missing simply sits in its sender's lane;
 *   delivering s:seq looks at slot seq+1 there;
 * - a message blocked by another entry k is parked in k's lane under the count of k that
 *   wakes it, and resumes checking where it stopped. That is O(N) work per message in total.
 */
export class CausalBuffer<M extends CausalMessage> {
  readonly stats: CausalBufferStats = {
    delivered: 0,
    duplicates: 0,
    overflows: 0,
    tooFarAhead: 0,
    maxHeld: 0,
  };
  private readonly lanes = new Map<string, Lane<M>>();
  /** Messages found deliverable and not yet delivered, with their senders' lanes. */
  private readonly ready: M[] = [];
  private readonly readyLanes: Lane<M>[] = [];
  private heldCount = 0;
  private readonly capacity: number;
  private readonly maxAhead: number;
  private readonly nodeId: string;

  constructor(options: CausalBufferOptions) {
    if (!Number.isSafeInteger(options.capacity) || options.capacity < 1) {
      throw new RangeError(`capacity must be a positive integer, got ${options.capacity}`);
    }
    const maxAhead = options.maxAhead ?? MAX_AHEAD_LIMIT;
    if (!Number.isSafeInteger(maxAhead) || maxAhead < 1 || maxAhead > MAX_AHEAD_LIMIT) {
      throw new RangeError(`maxAhead must be an integer in 1..${MAX_AHEAD_LIMIT}, got ${maxAhead}`);
    }
    this.capacity = options.capacity;
    this.maxAhead = maxAhead;
    this.nodeId = options.nodeId ?? 'local';
    for (const [id, value] of options.initial?.nonZero() ?? []) {
      this.lanes.set(id, new Lane(value));
    }
  }

  /** Delivered counts per sender. */
  clock(): VectorClock {
    const entries: [string, number][] = [];
    for (const [id, lane] of this.lanes) entries.push([id, lane.delivered]);
    return VectorClock.of(entries);
  }

  delivered(sender: string): number {
    return this.lanes.get(sender)?.delivered ?? 0;
  }

  get size(): number {
    return this.heldCount;
  }

  /** True when (sender, seq) was delivered or is held back here. */
  has(sender: string, seq: number): boolean {
    const lane = this.lanes.get(sender);
    if (!lane) return false;
    return seq <= lane.delivered || lane.holds(seq);
  }

  /**
   * Accepts one message and returns every message that became deliverable, in a causal
   * order (empty when the message was held back or was a duplicate).
   * @throws HoldBackOverflowError when it would have to be held and the queue is full.
   * @throws TooFarAheadError when an entry of its clock runs more than `maxAhead` ahead.
   */
  receive(message: M): readonly M[] {
    const { sender, seq } = message;
    if (!Number.isSafeInteger(seq) || seq < 1 || !hasEntry(message.clock, sender, seq)) {
      throw new InvalidCausalMessageError('seq', `must equal clock[${sender}] and be >= 1`);
    }
    const lane = this.lane(sender);
    if (seq <= lane.delivered || lane.holds(seq)) {
      this.stats.duplicates++;
      return NOTHING;
    }
    const senderReady = seq === lane.delivered + 1;
    const cursor = senderReady ? this.firstUnmet(message, 0) : 0;
    if (cursor < 0) return this.deliverFrom(message, lane);
    this.checkWindow(message);
    if (this.heldCount >= this.capacity) {
      this.stats.overflows++;
      throw new HoldBackOverflowError(this.nodeId, this.capacity, sender, seq);
    }
    const parked: Parked<M> = { message, lane, cursor, next: undefined };
    lane.reach(seq);
    lane.held[seq & lane.mask] = parked;
    lane.heldCount++;
    if (seq > lane.heldTop) lane.heldTop = seq;
    if (++this.heldCount > this.stats.maxHeld) this.stats.maxHeld = this.heldCount;
    if (senderReady) this.park(parked);
    return NOTHING;
  }

  /** Held-back messages with what each one still waits for, by sender and seq. */
  pending(): HeldBack<M>[] {
    const out: HeldBack<M>[] = [];
    for (const message of this.heldMessages()) {
      out.push({ message, waitingFor: this.waitingFor(message) });
    }
    return out;
  }

  waitingFor(message: M): Waiting[] {
    const waiting: Waiting[] = [];
    for (const [node, value] of message.clock.nonZero()) {
      const need = node === message.sender ? value - 1 : value;
      const have = this.delivered(node);
      if (have < need) waiting.push({ node, seq: have + 1 });
    }
    return waiting;
  }

  /**
   * The ranges this replica has never seen but knows exist: below held-back messages and
   * their clocks, and up to `horizon` (a clock heard from a peer) when given.
   */
  missing(horizon?: VectorClock): Gap[] {
    const needed = new Map<string, number>();
    const raise = (node: string, value: number) => {
      if (value > (needed.get(node) ?? 0)) needed.set(node, value);
    };
    for (const message of this.heldMessages()) {
      for (const [node, value] of message.clock.nonZero()) {
        raise(node, node === message.sender ? value - 1 : value);
      }
    }
    for (const [node, value] of horizon?.nonZero() ?? []) raise(node, value);

    const gaps: Gap[] = [];
    for (const [node, upTo] of needed) {
      const lane = this.lanes.get(node);
      let next = (lane?.delivered ?? 0) + 1;
      const last = lane && lane.heldCount > 0 ? Math.min(upTo, lane.heldTop) : 0;
      for (let seq = next; seq <= last; seq++) {
        if (lane!.held[seq & lane!.mask] === undefined) continue;
        if (seq > next) gaps.push({ node, fromSeq: next, toSeq: seq - 1 });
        next = seq + 1;
      }
      if (next <= upTo) gaps.push({ node, fromSeq: next, toSeq: upTo });
    }
    return gaps;
  }

  private *heldMessages(): IterableIterator<M> {
    for (const lane of this.lanes.values()) {
      if (lane.heldCount === 0) continue;
      for (let seq = lane.delivered + 1; seq <= lane.heldTop; seq++) {
        const parked = lane.held[seq & lane.mask];
        if (parked !== undefined) yield parked.message;
      }
    }
  }

  private lane(node: string): Lane<M> {
    let lane = this.lanes.get(node);
    if (lane === undefined) this.lanes.set(node, (lane = new Lane<M>(0)));
    return lane;
  }

  /**
   * The index of the first clock entry from `from` on, other than the sender's own (the
   * caller knows the sender's previous message is delivered), that local counts do not
   * meet yet; -1 when all are met.
   */
  private firstUnmet(message: M, from: number): number {
    const { sender, clock } = message;
    const { ids, counts } = clock;
    for (let i = from; i < ids.length; i++) {
      const node = ids[i];
      if (node !== sender && (this.lanes.get(node)?.delivered ?? 0) < counts[i]) return i;
    }
    return -1;
  }

  private checkWindow(message: M): void {
    const { ids, counts } = message.clock;
    // Local counts are never negative, so no entry can run further ahead than its own value:
    // a clock whose entries are all within maxAhead needs no lookups at all.
    let highest = 0;
    for (let i = 0; i < counts.length; i++) if (counts[i] > highest) highest = counts[i];
    if (highest <= this.maxAhead) return;
    for (let i = 0; i < ids.length; i++) {
      const local = this.delivered(ids[i]);
      if (counts[i] - local > this.maxAhead) {
        this.stats.tooFarAhead++;
        throw new TooFarAheadError(this.nodeId, ids[i], counts[i], local, this.maxAhead);
      }
    }
  }

  /** Files a message under the entry at its cursor: the count of that node that wakes it. */
  private park(parked: Parked<M>): void {
    const lane = this.lane(parked.message.clock.ids[parked.cursor]);
    const value = parked.message.clock.counts[parked.cursor];
    lane.reach(value);
    const slot = value & lane.mask;
    parked.next = lane.waiting[slot];
    lane.waiting[slot] = parked;
  }

  /** Delivers `first` and then everything its delivery unblocks, transitively. */
  private deliverFrom(first: M, firstLane: Lane<M>): M[] {
    const out: M[] = [];
    const { ready, readyLanes } = this;
    ready.push(first);
    readyLanes.push(firstLane);
    while (ready.length > 0) {
      const current = ready.pop()!;
      const lane = readyLanes.pop()!;
      const seq = current.seq;
      lane.delivered = seq;
      this.stats.delivered++;
      out.push(current);
      // Slot seq of either ring now lies below the window: empty it before it is reused.
      const slot = seq & lane.mask;
      let woken = lane.waiting[slot];
      lane.waiting[slot] = undefined;

      const successor = lane.heldCount > 0 ? lane.heldAt(seq + 1) : undefined;
      if (successor !== undefined) this.wake(successor);
      while (woken !== undefined) {
        const parked: Parked<M> = woken;
        woken = parked.next;
        parked.next = undefined;
        this.wake(parked);
      }
    }
    return out;
  }

  /** Re-checks a held message: queues it for delivery when nothing blocks it, else re-parks it. */
  private wake(parked: Parked<M>): void {
    parked.cursor = this.firstUnmet(parked.message, parked.cursor);
    if (parked.cursor >= 0) return this.park(parked);
    const { lane, message } = parked;
    lane.held[message.seq & lane.mask] = undefined;
    if (--lane.heldCount === 0) lane.heldTop = 0;
    this.heldCount--;
    this.ready.push(message);
    this.readyLanes.push(lane);
  }
}

function hasEntry(clock: VectorClock, id: string, value: number): boolean {
  const { ids, counts } = clock;
  for (let i = 0; i < ids.length; i++) if (ids[i] === id) return counts[i] === value;
  return false;
}
