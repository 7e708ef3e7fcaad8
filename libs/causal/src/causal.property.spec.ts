import fc from 'fast-check';
import { CausalBuffer, CausalMessage } from './causal-buffer';
import { checkCausalDelivery } from './causal-checker';
import { VectorClock } from './vector-clock';

/**
 * A generated message knows its direct causes explicitly (`deps`), so the oracle below
 * decides happened-before from the history itself, never from the clocks under test.
 */
interface HistoryMessage extends CausalMessage {
  readonly id: number;
  readonly deps: readonly number[];
}

interface History {
  readonly nodes: string[];
  readonly messages: HistoryMessage[];
}

/** Each step: `sender` broadcasts after having seen the messages picked by `seen`. */
const historyArb = fc
  .integer({ min: 2, max: 8 })
  .chain((n) =>
    fc.record({
      n: fc.constant(n),
      steps: fc.array(
        fc.record({ sender: fc.nat(n - 1), seen: fc.array(fc.nat(), { maxLength: 3 }) }),
        { minLength: 1, maxLength: 60 },
      ),
    }),
  )
  .map(({ n, steps }): History => {
    const nodes = Array.from({ length: n }, (_, i) => `n${i}`);
    const messages: HistoryMessage[] = [];
    const last = new Map<string, HistoryMessage>();
    for (const step of steps) {
      const sender = nodes[step.sender];
      const previous = last.get(sender);
      const deps = new Set<number>(previous ? [previous.id] : []);
      for (const pick of step.seen) if (messages.length > 0) deps.add(pick % messages.length);
      let clock = previous?.clock ?? VectorClock.zero;
      for (const dep of deps) clock = clock.merge(messages[dep].clock);
      clock = clock.tick(sender);
      const message = {
        id: messages.length,
        sender,
        seq: clock.get(sender),
        clock,
        deps: [...deps],
      };
      messages.push(message);
      last.set(sender, message);
    }
    return { nodes, messages };
  });

/** Every node receives every message, in its own random order, some of them twice. */
const scenarioArb = historyArb.chain((history) =>
  fc.record({
    history: fc.constant(history),
    arrivals: fc.array(
      fc
        .array(fc.integer({ min: 0, max: history.messages.length - 1 }), {
          maxLength: history.messages.length,
        })
        .chain((dups) =>
          fc.shuffledSubarray([...history.messages.map((m) => m.id), ...dups], {
            minLength: history.messages.length + dups.length,
          }),
        ),
      { minLength: history.nodes.length, maxLength: history.nodes.length },
    ),
  }),
);

/** Oracle: the transitive closure of `deps`, computed by plain graph search. */
function causalPast(history: History, id: number): Set<number> {
  const past = new Set<number>();
  const stack = [...history.messages[id].deps];
  while (stack.length > 0) {
    const next = stack.pop()!;
    if (past.has(next)) continue;
    past.add(next);
    stack.push(...history.messages[next].deps);
  }
  return past;
}

function deliverAll(history: History, arrival: number[]): HistoryMessage[] {
  const buffer = new CausalBuffer<HistoryMessage>({ capacity: history.messages.length + 1 });
  return arrival.flatMap((id) => buffer.receive(history.messages[id]));
}

describe('CausalBuffer properties', () => {
  it('every node delivers every message exactly once, in an order that extends happened-before', () => {
    fc.assert(
      fc.property(scenarioArb, ({ history, arrivals }) => {
        const deliveries: Record<string, HistoryMessage[]> = {};
        arrivals.forEach((arrival, node) => {
          const delivered = deliverAll(history, arrival);
          deliveries[history.nodes[node]] = delivered;
          const order = delivered.map((m) => m.id);
          expect([...order].sort((a, b) => a - b)).toEqual(history.messages.map((m) => m.id));
          const position = new Map(order.map((id, index) => [id, index]));
          for (const id of order) {
            for (const cause of causalPast(history, id)) {
              expect(position.get(cause)!).toBeLessThan(position.get(id)!);
            }
          }
        });
        expect(
          checkCausalDelivery({ deliveries, acknowledged: history.messages }).violations,
        ).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('the buffer is empty and its clock counts every sender once everything has arrived', () => {
    fc.assert(
      fc.property(scenarioArb, ({ history, arrivals }) => {
        const buffer = new CausalBuffer<HistoryMessage>({ capacity: history.messages.length + 1 });
        for (const id of arrivals[0]) buffer.receive(history.messages[id]);
        expect(buffer.size).toBe(0);
        expect(buffer.missing()).toEqual([]);
        for (const node of history.nodes) {
          expect(buffer.delivered(node)).toBe(
            history.messages.filter((m) => m.sender === node).length,
          );
        }
        expect(buffer.stats.duplicates).toBe(arrivals[0].length - history.messages.length);
      }),
      { numRuns: 200 },
    );
  });

  it('held-back messages wait for exactly what is missing: delivering the gaps releases them all', () => {
    fc.assert(
      fc.property(scenarioArb, fc.nat(), ({ history, arrivals }, cut) => {
        const arrival = arrivals[0];
        const buffer = new CausalBuffer<HistoryMessage>({ capacity: history.messages.length + 1 });
        const firstPart = arrival.slice(0, cut % (arrival.length + 1));
        for (const id of firstPart) buffer.receive(history.messages[id]);
        for (const gap of buffer.missing()) {
          for (let seq = gap.fromSeq; seq <= gap.toSeq; seq++) {
            const found = history.messages.find((m) => m.sender === gap.node && m.seq === seq)!;
            buffer.receive(found);
          }
        }
        expect(buffer.size).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it('the checker catches a cause and its effect swapped in an otherwise correct log', () => {
    fc.assert(
      fc.property(scenarioArb, fc.nat(), ({ history, arrivals }, pick) => {
        const delivered = deliverAll(history, arrivals[0]);
        const pairs: [number, number][] = [];
        delivered.forEach((m, i) => {
          const past = causalPast(history, m.id);
          delivered.forEach((other, j) => {
            if (j < i && past.has(other.id)) pairs.push([j, i]);
          });
        });
        fc.pre(pairs.length > 0);
        const [cause, effect] = pairs[pick % pairs.length];
        const planted = [...delivered];
        [planted[cause], planted[effect]] = [planted[effect], planted[cause]];
        const report = checkCausalDelivery({ deliveries: { n0: planted } });
        expect(report.violations.some((v) => v.kind === 'causal-order')).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('the checker catches a planted duplicate and a planted loss', () => {
    fc.assert(
      fc.property(scenarioArb, fc.nat(), ({ history, arrivals }, pick) => {
        const delivered = deliverAll(history, arrivals[0]);
        const victim = pick % delivered.length;
        const duplicated = [...delivered, delivered[victim]];
        expect(
          checkCausalDelivery({ deliveries: { n0: duplicated } }).violations.map((v) => v.kind),
        ).toEqual(['duplicate']);
        const lost = delivered.filter((_, i) => i !== victim);
        const report = checkCausalDelivery({
          deliveries: { n0: lost },
          acknowledged: history.messages,
        });
        expect(report.violations.some((v) => v.kind === 'missing')).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
