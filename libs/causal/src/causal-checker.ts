import { VectorClock } from './vector-clock';

/** A delivered message as the checker reads it: identity is (sender, seq). */
export interface CheckedMessage {
  readonly sender: string;
  readonly seq: number;
  readonly clock: VectorClock;
}

export type ViolationKind = 'causal-order' | 'duplicate' | 'missing' | 'conflict';

export interface Violation {
  readonly kind: ViolationKind;
  /** The replica whose log shows the problem. */
  readonly node: string;
  /** `sender:seq` of the message concerned. */
  readonly message: string;
  /** Position in that node's delivery sequence, when the message was delivered there. */
  readonly position?: number;
  readonly detail: string;
}

export interface CheckInput {
  /** Each node's delivery sequence, in delivery order. */
  readonly deliveries: Readonly<Record<string, readonly CheckedMessage[]>>;
  /** Messages whose origination was acknowledged; each must be delivered at every node. */
  readonly acknowledged?: readonly { sender: string; seq: number }[];
}

export interface CheckReport {
  readonly ok: boolean;
  readonly violations: Violation[];
  /** Delivered messages per node. */
  readonly counts: Record<string, number>;
}

const key = (sender: string, seq: number) => `${sender}:${seq}`;

/**
 * Checks recorded delivery sequences against causal delivery, all at once. For logs too
 * long to hold, feed a {@link CausalChecker} page by page instead: same verdicts.
 */
export function checkCausalDelivery(input: CheckInput): CheckReport {
  const checker = new CausalChecker();
  for (const [node, log] of Object.entries(input.deliveries)) checker.add(node, log);
  return checker.report(input.acknowledged);
}

/** One node's walk through its own delivery sequence. */
interface NodeProgress {
  position: number;
  /** Per sender, n such that messages 1..n were all delivered here. */
  readonly prefix: Map<string, number>;
  /** Per sender, seqs delivered beyond the prefix (empty while the node delivers FIFO). */
  readonly ahead: Map<string, Set<number>>;
}

/**
 * Causal delivery checked incrementally, in memory that does not grow with the logs' length
 * beyond four bytes per distinct message. Messages from one sender are numbered 1, 2, …, so
 * "everything m causally depends on" is exactly: for each k, k's messages 1..m.clock[k]
 * (minus m itself). A node respects causality when, at each delivery, those prefixes were
 * all delivered before. Tracking each sender's contiguous delivered prefix (and the few seqs
 * delivered past it, which a correct node never has) replaces a set of every id seen: a seq
 * at or below the prefix, or among those past it, is a duplicate.
 *
 * Feed each node's sequence in order with {@link add} — one node's pages in order, nodes in
 * any interleaving — then call {@link report}.
 *
 * A conflict (one id carried with two different clocks, at two nodes or twice at one) is
 * found by a 32-bit fingerprint of the clock kept per (sender, seq): a forged clock whose
 * fingerprint collides with the real one's (odds 2^-32) would go unreported. That is the
 * price of not keeping a million clocks to compare against.
 */
export class CausalChecker {
  private readonly violations: Violation[] = [];
  private readonly nodes = new Map<string, NodeProgress>();
  /** Per sender, the fingerprint of the clock first seen for each seq (0 = not seen yet). */
  private readonly fingerprints = new Map<string, Uint32Array>();
  /** Fingerprints of seqs too far past a sender's column to grow it for (forged seqs). */
  private readonly farFingerprints = new Map<string, number>();
  private readonly idHashes = new Map<string, number>();

  /** Checks the next messages of `node`'s delivery sequence. */
  add(node: string, messages: Iterable<CheckedMessage>): void {
    let progress = this.nodes.get(node);
    if (!progress) {
      progress = { position: 0, prefix: new Map(), ahead: new Map() };
      this.nodes.set(node, progress);
    }
    const { prefix, ahead } = progress;
    for (const message of messages) {
      const position = progress.position++;
      const { sender, seq, clock } = message;
      if (!this.sameClockAsBefore(sender, seq, this.fingerprint(clock))) {
        this.violations.push({
          kind: 'conflict',
          node,
          message: key(sender, seq),
          position,
          detail: `same id with two clocks: this copy carries ${clock.toString()}, an earlier one another`,
        });
      }
      const delivered = prefix.get(sender) ?? 0;
      const past = ahead.get(sender);
      if (seq <= delivered || past?.has(seq)) {
        this.violations.push({
          kind: 'duplicate',
          node,
          message: key(sender, seq),
          position,
          detail: 'delivered twice',
        });
        continue;
      }
      const { ids, counts } = clock;
      for (let i = 0; i < ids.length; i++) {
        const k = ids[i];
        const need = k === sender ? counts[i] - 1 : counts[i];
        const have = prefix.get(k) ?? 0;
        if (have < need) {
          this.violations.push({
            kind: 'causal-order',
            node,
            message: key(sender, seq),
            position,
            detail: `delivered before ${key(k, have + 1)}, which happened before it`,
          });
          break;
        }
      }
      if (seq === delivered + 1) {
        let contiguous = seq;
        if (past) {
          while (past.delete(contiguous + 1)) contiguous++;
          if (past.size === 0) ahead.delete(sender);
        }
        prefix.set(sender, contiguous);
      } else if (past) past.add(seq);
      else ahead.set(sender, new Set([seq]));
    }
  }

  /** The verdict so far; `acknowledged` messages must be delivered at every node fed. */
  report(acknowledged: readonly { sender: string; seq: number }[] = []): CheckReport {
    const violations = [...this.violations];
    const counts: Record<string, number> = {};
    for (const [node, { position, prefix, ahead }] of this.nodes) {
      counts[node] = position;
      for (const { sender, seq } of acknowledged) {
        if (seq <= (prefix.get(sender) ?? 0) || ahead.get(sender)?.has(seq)) continue;
        violations.push({
          kind: 'missing',
          node,
          message: key(sender, seq),
          detail: 'acknowledged but never delivered here',
        });
      }
    }
    return { ok: violations.length === 0, violations, counts };
  }

  /** Records the clock's fingerprint for (sender, seq) if new; false if it differs from the one recorded. */
  private sameClockAsBefore(sender: string, seq: number, fingerprint: number): boolean {
    let column = this.fingerprints.get(sender);
    if (!column || seq >= column.length) {
      const capacity = column?.length ?? 0;
      if (!Number.isSafeInteger(seq) || seq < 0 || seq > 2 * capacity + 65_536) {
        const id = key(sender, seq);
        const first = this.farFingerprints.get(id);
        if (first === undefined) this.farFingerprints.set(id, fingerprint);
        return first === undefined || first === fingerprint;
      }
      const grown = new Uint32Array(Math.max(1024, 2 * capacity, seq + 1));
      if (column) grown.set(column);
      this.fingerprints.set(sender, (column = grown));
    }
    const first = column[seq];
    if (first === 0) column[seq] = fingerprint;
    return first === 0 || first === fingerprint;
  }

  /** A non-zero 32-bit hash of a clock's entries, independent of their order. */
  private fingerprint(clock: VectorClock): number {
    const { ids, counts } = clock;
    let sum = 0x9e3779b9;
    for (let i = 0; i < ids.length; i++) {
      let h =
        this.idHash(ids[i]) ^
        Math.imul(counts[i] | 0, 0x85ebca6b) ^
        Math.floor(counts[i] / 2 ** 32);
      h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
      h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
      sum = (sum + (h ^ (h >>> 16))) | 0;
    }
    return sum >>> 0 || 1;
  }

  private idHash(id: string): number {
    let hash = this.idHashes.get(id);
    if (hash === undefined) {
      hash = 0x811c9dc5;
      for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
      if (this.idHashes.size < 4096) this.idHashes.set(id, hash);
    }
    return hash;
  }
}
