import { checkCausalDelivery, CheckedMessage } from './causal-checker';
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
});
