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
interface Parked<M> {
  readonly message: M;
  cursor: number;
  next: Parked<M> | undefined;
}

const NOTHING: never[] = [];
Object.freeze(NOTHING);

/**
 * The hold-back queue of causal broadcast (Birman–Schiper–Stephenson). A message m from s
 * is delivered once `m.clock[s] == local[s] + 1` and `m.clock[k] <= local[k]` for every
 * other k. Nothing is ever rescanned:
 * - a message whose sender's previous message is missing simply sits in `held`; delivering
 *   s:seq looks up s:seq+1 there;
 * - a message blocked by another entry k is parked under the local count of k that wakes it,
 *   and resumes checking where it stopped. That is O(N) work per message in total.
 */
export class CausalBuffer<M extends CausalMessage> {
  readonly stats: CausalBufferStats = {
    delivered: 0,
    duplicates: 0,
    overflows: 0,
    tooFarAhead: 0,
    maxHeld: 0,
  };
  private readonly local = new Map<string, number>();
  /** sender -> seq -> held message */
  private readonly held = new Map<string, Map<number, Parked<M>>>();
  /** node k -> value of local[k] that wakes them -> first of a linked list of parked messages */
  private readonly waiters = new Map<string, Map<number, Parked<M>>>();
  private readonly ready: M[] = [];
  private heldCount = 0;
  private readonly capacity: number;
  private readonly maxAhead: number;
  private readonly nodeId: string;

  constructor(options: CausalBufferOptions) {
    if (!Number.isSafeInteger(options.capacity) || options.capacity < 1) {
      throw new RangeError(`capacity must be a positive integer, got ${options.capacity}`);
    }
    this.capacity = options.capacity;
    this.maxAhead = options.maxAhead ?? Number.MAX_SAFE_INTEGER;
    this.nodeId = options.nodeId ?? 'local';
    for (const [id, value] of options.initial?.nonZero() ?? []) this.local.set(id, value);
  }

  /** Delivered counts per sender. */
  clock(): VectorClock {
    return VectorClock.of(this.local);
  }

  delivered(sender: string): number {
    return this.local.get(sender) ?? 0;
  }

  get size(): number {
    return this.heldCount;
  }

  /** True when (sender, seq) was delivered or is held back here. */
  has(sender: string, seq: number): boolean {
    return seq <= this.delivered(sender) || (this.held.get(sender)?.has(seq) ?? false);
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
    const delivered = this.local.get(sender) ?? 0;
    const bySeq = this.held.get(sender);
    if (seq <= delivered || bySeq?.has(seq)) {
      this.stats.duplicates++;
      return NOTHING;
    }
    const senderReady = seq === delivered + 1;
    const cursor = senderReady ? this.firstUnmet(message, 0) : 0;
    if (cursor < 0) return this.deliverFrom(message);
    this.checkWindow(message);
    if (this.heldCount >= this.capacity) {
      this.stats.overflows++;
      throw new HoldBackOverflowError(this.nodeId, this.capacity, sender, seq);
    }
    const parked: Parked<M> = { message, cursor, next: undefined };
    if (bySeq) bySeq.set(seq, parked);
    else this.held.set(sender, new Map([[seq, parked]]));
    if (++this.heldCount > this.stats.maxHeld) this.stats.maxHeld = this.heldCount;
    if (senderReady) this.park(parked);
    return NOTHING;
  }

  /** Held-back messages with what each one still waits for. */
  pending(): HeldBack<M>[] {
    const out: HeldBack<M>[] = [];
    for (const bySeq of this.held.values()) {
      for (const { message } of bySeq.values()) {
        out.push({ message, waitingFor: this.waitingFor(message) });
      }
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
    for (const bySeq of this.held.values()) {
      for (const { message } of bySeq.values()) {
        for (const [node, value] of message.clock.nonZero()) {
          raise(node, node === message.sender ? value - 1 : value);
        }
      }
    }
    for (const [node, value] of horizon?.nonZero() ?? []) raise(node, value);

    const gaps: Gap[] = [];
    for (const [node, upTo] of needed) {
      let next = this.delivered(node) + 1;
      const heldSeqs = [...(this.held.get(node)?.keys() ?? [])].sort((a, b) => a - b);
      for (const seq of heldSeqs) {
        if (seq > upTo) break;
        if (seq > next) gaps.push({ node, fromSeq: next, toSeq: seq - 1 });
        next = seq + 1;
      }
      if (next <= upTo) gaps.push({ node, fromSeq: next, toSeq: upTo });
    }
    return gaps;
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
      if (node !== sender && (this.local.get(node) ?? 0) < counts[i]) return i;
    }
    return -1;
  }

  /** Moves a held message's cursor; true when it became deliverable. */
  private advance(parked: Parked<M>): boolean {
    parked.cursor = this.firstUnmet(parked.message, parked.cursor);
    return parked.cursor < 0;
  }

  private checkWindow(message: M): void {
    const { ids, counts } = message.clock;
    for (let i = 0; i < ids.length; i++) {
      const local = this.delivered(ids[i]);
      if (counts[i] - local > this.maxAhead) {
        this.stats.tooFarAhead++;
        throw new TooFarAheadError(this.nodeId, ids[i], counts[i], local, this.maxAhead);
      }
    }
  }

  /** Files a message under the entry at its cursor: the local count of that node that wakes it. */
  private park(parked: Parked<M>): void {
    const node = parked.message.clock.ids[parked.cursor];
    const value = parked.message.clock.counts[parked.cursor];
    let byValue = this.waiters.get(node);
    if (!byValue) this.waiters.set(node, (byValue = new Map()));
    parked.next = byValue.get(value);
    byValue.set(value, parked);
  }

  private unhold(parked: Parked<M>): void {
    this.held.get(parked.message.sender)!.delete(parked.message.seq);
    this.heldCount--;
  }

  /** Delivers `first` and then everything its delivery unblocks, transitively. */
  private deliverFrom(first: M): M[] {
    const out: M[] = [];
    const ready = this.ready;
    ready.push(first);
    for (let current = ready.pop(); current !== undefined; current = ready.pop()) {
      const { sender, seq } = current;
      this.local.set(sender, seq);
      this.stats.delivered++;
      out.push(current);

      const successor = this.held.get(sender)?.get(seq + 1);
      if (successor !== undefined) {
        if (this.advance(successor)) {
          this.unhold(successor);
          ready.push(successor.message);
        } else this.park(successor);
      }

      const byValue = this.waiters.get(sender);
      let woken = byValue?.get(seq);
      if (woken === undefined) continue;
      byValue!.delete(seq);
      while (woken !== undefined) {
        const parked: Parked<M> = woken;
        woken = parked.next;
        parked.next = undefined;
        if (!this.advance(parked)) this.park(parked);
        else {
          this.unhold(parked);
          ready.push(parked.message);
        }
      }
    }
    return out;
  }
}

function hasEntry(clock: VectorClock, id: string, value: number): boolean {
  const { ids, counts } = clock;
  for (let i = 0; i < ids.length; i++) if (ids[i] === id) return counts[i] === value;
  return false;
}
