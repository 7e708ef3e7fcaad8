import fc from 'fast-check';
import { CausalChecker, checkCausalDelivery, CheckedMessage } from './causal-checker';
import { VectorClock } from './vector-clock';

const m = (sender: string, clock: Record<string, number>): CheckedMessage => ({
  sender,
  seq: clock[sender],
  clock: VectorClock.of(clock),
});
const hello = m('n0', { n0: 1 });
const hi = m('n1', { n0: 1, n1: 1 });
const heyBoth = m('n2', { n0: 1, n1: 1, n2: 1 });

describe('checkCausalDelivery', () => {
  it('accepts causal orders, including different orders of concurrent messages', () => {
    const first = m('n0', { n0: 1 });
    const alsoFirst = m('n1', { n1: 1 });
    const report = checkCausalDelivery({
      deliveries: { n0: [first, alsoFirst], n1: [alsoFirst, first] },
      acknowledged: [first, alsoFirst],
    });
    expect(report).toEqual({ ok: true, violations: [], counts: { n0: 2, n1: 2 } });
  });

  it('reports a reply delivered before its cause', () => {
    const report = checkCausalDelivery({ deliveries: { n2: [hi, hello, heyBoth] } });
    expect(report.ok).toBe(false);
    expect(report.violations).toEqual([
      {
        kind: 'causal-order',
        node: 'n2',
        message: 'n1:1',
        position: 0,
        detail: 'delivered before n0:1, which happened before it',
      },
    ]);
  });

  it('reports a FIFO violation from one sender', () => {
    const report = checkCausalDelivery({
      deliveries: { n1: [m('n0', { n0: 2 }), m('n0', { n0: 1 })] },
    });
    expect(report.violations.map((v) => [v.kind, v.message])).toEqual([['causal-order', 'n0:2']]);
  });

  it('reports duplicates', () => {
    const report = checkCausalDelivery({ deliveries: { n1: [hello, hello] } });
    expect(report.violations.map((v) => [v.kind, v.node, v.position])).toEqual([
      ['duplicate', 'n1', 1],
    ]);
  });

  it('reports acknowledged messages missing at a node', () => {
    const report = checkCausalDelivery({
      deliveries: { n0: [hello, hi], n1: [hello] },
      acknowledged: [hello, hi],
    });
    expect(report.violations).toEqual([
      {
        kind: 'missing',
        node: 'n1',
        message: 'n1:1',
        detail: 'acknowledged but never delivered here',
      },
    ]);
  });

  it('reports one id carried with two different clocks', () => {
    const forged = m('n1', { n1: 1 });
    const report = checkCausalDelivery({ deliveries: { n0: [hello, hi], n1: [forged] } });
    expect(report.violations.map((v) => v.kind)).toEqual(['conflict']);
  });

  it('reports the same id with two clocks at one node too', () => {
    const forged = m('n0', { n0: 1, n1: 5 });
    const report = checkCausalDelivery({ deliveries: { n0: [hello, forged] } });
    expect(report.violations.map((v) => [v.kind, v.position])).toEqual([
      ['conflict', 1],
      ['duplicate', 1],
    ]);
  });
});

/**
 * The straightforward checker, with a set of every id each node delivered and every clock's
 * text: what CausalChecker must agree with while keeping neither.
 */
function referenceCheck(deliveries: Record<string, CheckedMessage[]>, acked: CheckedMessage[]) {
  const out: [string, string, string, number | undefined][] = [];
  const canonical = new Map<string, string>();
  for (const [node, log] of Object.entries(deliveries)) {
    const seen = new Set<string>();
    const delivered = new Map<string, Set<number>>();
    const has = (k: string, upTo: number) => {
      for (let s = 1; s <= upTo; s++) if (!delivered.get(k)?.has(s)) return s;
      return 0;
    };
    log.forEach((message, position) => {
      const id = `${message.sender}:${message.seq}`;
      const text = message.clock.toString();
      const first = canonical.get(id);
      if (first === undefined) canonical.set(id, text);
      else if (first !== text) out.push(['conflict', node, id, position]);
      if (seen.has(id)) return void out.push(['duplicate', node, id, position]);
      seen.add(id);
      for (const [k, value] of message.clock.nonZero()) {
        if (has(k, k === message.sender ? value - 1 : value) !== 0) {
          out.push(['causal-order', node, id, position]);
          break;
        }
      }
      if (!delivered.has(message.sender)) delivered.set(message.sender, new Set());
      delivered.get(message.sender)!.add(message.seq);
    });
    for (const a of acked)
      if (!seen.has(`${a.sender}:${a.seq}`))
        out.push(['missing', node, `${a.sender}:${a.seq}`, undefined]);
  }
  return out;
}

describe('CausalChecker', () => {
  const ids = ['n0', 'n1', 'n2'];
  const messageArb = fc
    .record({
      sender: fc.constantFrom(...ids),
      seq: fc.integer({ min: 1, max: 6 }),
      others: fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 3, maxLength: 3 }),
    })
    .map(({ sender, seq, others }) =>
      m(sender, { ...Object.fromEntries(ids.map((id, i) => [id, others[i]])), [sender]: seq }),
    );
  const logsArb = fc.record({
    n0: fc.array(messageArb, { maxLength: 25 }),
    n1: fc.array(messageArb, { maxLength: 25 }),
  });

  it('fed page by page, in any interleaving of nodes, agrees with the all-at-once reference', () => {
    fc.assert(
      fc.property(
        logsArb,
        fc.array(messageArb, { maxLength: 4 }),
        fc.integer({ min: 1, max: 7 }),
        fc.array(fc.boolean(), { maxLength: 60 }),
        (deliveries, acked, pageSize, turns) => {
          const checker = new CausalChecker();
          const at = { n0: 0, n1: 0 };
          checker.add('n0', []);
          checker.add('n1', []);
          let turn = 0;
          while (at.n0 < deliveries.n0.length || at.n1 < deliveries.n1.length) {
            let node: 'n0' | 'n1' = turns[turn++ % Math.max(1, turns.length)] ? 'n0' : 'n1';
            if (at[node] >= deliveries[node].length) node = node === 'n0' ? 'n1' : 'n0';
            checker.add(node, deliveries[node].slice(at[node], at[node] + pageSize));
            at[node] += pageSize;
          }
          const report = checker.report(acked);
          const expected = referenceCheck(deliveries, acked);
          // Conflicts are attributed to whichever copy the checker met second, so they
          // are compared as a set of ids; the rest exactly, per node in order.
          const plain = (rows: (typeof expected)[number][]) =>
            rows.filter((r) => r[0] !== 'conflict').sort((a, b) => (a.join() < b.join() ? -1 : 1));
          const conflicted = (rows: (typeof expected)[number][]) =>
            [...new Set(rows.filter((r) => r[0] === 'conflict').map((r) => r[2]))].sort();
          const got = report.violations.map(
            (v) => [v.kind, v.node, v.message, v.position] as (typeof expected)[number],
          );
          expect(plain(got)).toEqual(plain(expected));
          expect(conflicted(got)).toEqual(conflicted(expected));
          expect(report.counts).toEqual({ n0: deliveries.n0.length, n1: deliveries.n1.length });
        },
      ),
      { numRuns: 500 },
    );
  });
});
