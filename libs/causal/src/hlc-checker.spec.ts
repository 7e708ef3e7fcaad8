import { HlcChecker } from './hlc-checker';
import { VectorClock } from './vector-clock';

const m = (
  sender: string,
  seq: number,
  clock: Record<string, number>,
  wallMs: number,
  logical = 0,
) => ({
  sender,
  seq,
  clock: VectorClock.of(clock),
  hlc: { wallMs, logical },
});

describe('HlcChecker', () => {
  it('accepts logs whose causes all have smaller timestamps', () => {
    const checker = new HlcChecker();
    const hello = m('n0', 1, { n0: 1 }, 1_000);
    const hi = m('n1', 1, { n0: 1, n1: 1 }, 1_000, 1);
    const other = m('n2', 1, { n2: 1 }, 900); // concurrent: any timestamp will do
    checker.add('n0', [hello, hi, other]);
    checker.add('n1', [other, hello, hi]);
    expect(checker.report()).toEqual({ checked: 3, violations: [] });
  });

  it('finds a reply stamped before its cause, and one id with two timestamps', () => {
    const checker = new HlcChecker();
    const question = m('n0', 1, { n0: 1 }, 5_000);
    const answer = m('n2', 1, { n0: 1, n2: 1 }, 4_999);
    const next = m('n0', 2, { n0: 2 }, 5_000); // its own previous message is its cause
    checker.add('n0', [question, answer, next]);
    checker.add('n1', [question, { ...answer, hlc: { wallMs: 6_000, logical: 0 } }]);
    const { violations } = checker.report();
    expect(violations.map((v) => [v.kind, v.node, v.message])).toEqual([
      ['hlc-order', 'n0', 'n2:1'],
      ['hlc-order', 'n0', 'n0:2'],
      ['hlc-conflict', 'n1', 'n2:1'],
    ]);
    expect(violations[0].detail).toContain('n0:1 happened before it');
  });
});
