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
 * Checks recorded delivery sequences against causal delivery. Messages from one sender
 * are numbered 1, 2, …, so "everything m causally depends on" is exactly: for each k,
 * k's messages 1..m.clock[k] (minus m itself). A node respects causality when, at each
 * delivery, those prefixes were all delivered before; tracking each sender's contiguous
 * delivered prefix makes the check linear in the log length.
 */
export function checkCausalDelivery(input: CheckInput): CheckReport {
  const violations: Violation[] = [];
  const counts: Record<string, number> = {};
  const canonical = new Map<string, string>();

  for (const [node, log] of Object.entries(input.deliveries)) {
    counts[node] = log.length;
    const seen = new Set<string>();
    const deliveredSeqs = new Map<string, Set<number>>();
    const prefix = new Map<string, number>();
    log.forEach((message, position) => {
      const id = key(message.sender, message.seq);
      const clockText = message.clock.toString();
      const first = canonical.get(id);
      if (first === undefined) canonical.set(id, clockText);
      else if (first !== clockText) {
        violations.push({
          kind: 'conflict',
          node,
          message: id,
          position,
          detail: `same id with two clocks: ${first} vs ${clockText}`,
        });
      }
      if (seen.has(id)) {
        violations.push({
          kind: 'duplicate',
          node,
          message: id,
          position,
          detail: 'delivered twice',
        });
        return;
      }
      seen.add(id);
      for (const [k, value] of message.clock.nonZero()) {
        const need = k === message.sender ? value - 1 : value;
        const have = prefix.get(k) ?? 0;
        if (have < need) {
          violations.push({
            kind: 'causal-order',
            node,
            message: id,
            position,
            detail: `delivered before ${key(k, have + 1)}, which happened before it`,
          });
          break;
        }
      }
      let seqs = deliveredSeqs.get(message.sender);
      if (!seqs) deliveredSeqs.set(message.sender, (seqs = new Set()));
      seqs.add(message.seq);
      let contiguous = prefix.get(message.sender) ?? 0;
      while (seqs.has(contiguous + 1)) contiguous++;
      prefix.set(message.sender, contiguous);
    });
    for (const acked of input.acknowledged ?? []) {
      const id = key(acked.sender, acked.seq);
      if (!seen.has(id)) {
        violations.push({
          kind: 'missing',
          node,
          message: id,
          detail: 'acknowledged but never delivered here',
        });
      }
    }
  }
  return { ok: violations.length === 0, violations, counts };
}
