import fc from 'fast-check';
import {
  compareHlc,
  Hlc,
  HlcTooFarAheadError,
  HybridClock,
  InvalidHlcError,
  parseHlc,
} from './hybrid-clock';

describe('HybridClock', () => {
  it('follows the physical clock when it moves forward, counts when it does not', () => {
    let t = 1_000;
    const clock = new HybridClock(() => t);
    expect(clock.tick()).toEqual({ wallMs: 1_000, logical: 0 });
    expect(clock.tick()).toEqual({ wallMs: 1_000, logical: 1 });
    t = 900; // stepped back: the HLC waits with its counter
    expect(clock.tick()).toEqual({ wallMs: 1_000, logical: 2 });
    t = 1_500.7;
    expect(clock.tick()).toEqual({ wallMs: 1_500, logical: 0 });
  });

  it('takes the largest of its own, the received and the physical time (the receive rule)', () => {
    let t = 1_000;
    const clock = new HybridClock(() => t);
    clock.tick();
    expect(clock.receive({ wallMs: 5_000, logical: 3 })).toEqual({ wallMs: 5_000, logical: 4 });
    expect(clock.receive({ wallMs: 5_000, logical: 9 })).toEqual({ wallMs: 5_000, logical: 10 });
    expect(clock.receive({ wallMs: 4_000, logical: 50 })).toEqual({ wallMs: 5_000, logical: 11 });
    t = 6_000;
    expect(clock.receive({ wallMs: 5_500, logical: 50 })).toEqual({ wallMs: 6_000, logical: 0 });
  });

  it('resumes above the timestamp it is given (a restart)', () => {
    const clock = new HybridClock(() => 10, { wallMs: 500, logical: 7 });
    expect(clock.tick()).toEqual({ wallMs: 500, logical: 8 });
  });

  it('refuses a timestamp further ahead than its bound, and leaves itself untouched', () => {
    const clock = new HybridClock(() => 1_000, undefined, 60_000);
    clock.tick();
    expect(() => clock.receive({ wallMs: 61_001, logical: 0 })).toThrow(HlcTooFarAheadError);
    expect(clock.current).toEqual({ wallMs: 1_000, logical: 0 });
    expect(clock.receive({ wallMs: 61_000, logical: 0 }).wallMs).toBe(61_000);
  });

  it('parses untrusted timestamps, naming the field', () => {
    expect(parseHlc({ wallMs: 5, logical: 0 })).toEqual({ wallMs: 5, logical: 0 });
    for (const [bad, field] of [
      [null, ''],
      [[1, 2], ''],
      [{ wallMs: -1, logical: 0 }, 'wallMs'],
      [{ wallMs: 1.5, logical: 0 }, 'wallMs'],
      [{ wallMs: '5', logical: 0 }, 'wallMs'],
      [{ wallMs: 5, logical: 2 ** 33 }, 'logical'],
      [{ wallMs: 5 }, 'logical'],
    ] as const) {
      let error: unknown;
      try {
        parseHlc(bad);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(InvalidHlcError);
      expect((error as InvalidHlcError).field).toBe(field);
    }
  });
});

/**
 * Random executions: nodes with their own offset, drift and steps of the physical clock
 * send messages and deliver each other's in causal order (a message is delivered after
 * everything its sender had delivered). True time advances by random steps.
 */
interface Sent {
  readonly id: number;
  readonly sender: number;
  readonly hlc: Hlc;
  /** Ids of every message that happened before this one (its causal past). */
  readonly past: ReadonlySet<number>;
  /** The largest physical reading of any node up to the moment it was stamped. */
  readonly maxPhysical: number;
  readonly sentPhysical: number;
}

const nodeClockArb = fc.record({
  offsetMs: fc.integer({ min: -600_000, max: 600_000 }),
  driftPpm: fc.integer({ min: -1_000, max: 1_000 }),
});

const stepArb = fc.oneof(
  fc.record({ kind: fc.constant('send' as const), node: fc.nat(7), advanceMs: fc.nat(50) }),
  fc.record({ kind: fc.constant('deliver' as const), node: fc.nat(7), pick: fc.nat() }),
  fc.record({
    kind: fc.constant('step' as const),
    node: fc.nat(7),
    byMs: fc.integer({ min: -3_600_000, max: 86_400_000 }),
  }),
);

type Step = typeof stepArb extends fc.Arbitrary<infer S> ? S : never;

function run(clocks: { offsetMs: number; driftPpm: number }[], steps: readonly Step[]): Sent[] {
  const n = clocks.length;
  let trueMs = 1_700_000_000_000;
  const steppedBy = clocks.map(() => 0);
  const physical = (i: number) =>
    trueMs +
    clocks[i].offsetMs +
    (clocks[i].driftPpm * (trueMs - 1_700_000_000_000)) / 1e6 +
    steppedBy[i];
  let maxPhysical = -Infinity;
  const read = (i: number) => {
    const value = physical(i);
    maxPhysical = Math.max(maxPhysical, Math.floor(value));
    return value;
  };
  const hlcs = clocks.map((_, i) => new HybridClock(() => read(i)));
  const delivered = clocks.map(() => new Set<number>());
  const sent: Sent[] = [];
  for (const step of steps) {
    const node = step.node % n;
    if (step.kind === 'send') {
      trueMs += step.advanceMs;
      const hlc = hlcs[node].tick();
      const past = new Set<number>();
      for (const id of delivered[node]) {
        past.add(id);
        for (const earlier of sent[id].past) past.add(earlier);
      }
      const message: Sent = {
        id: sent.length,
        sender: node,
        hlc,
        past,
        maxPhysical,
        sentPhysical: Math.floor(physical(node)),
      };
      sent.push(message);
      delivered[node].add(message.id);
    } else if (step.kind === 'deliver') {
      // Deliverable at `node`: not yet delivered there, and its whole past delivered there.
      const ready = sent.filter(
        (m) => !delivered[node].has(m.id) && [...m.past].every((id) => delivered[node].has(id)),
      );
      if (ready.length === 0) continue;
      const m = ready[step.pick % ready.length];
      hlcs[node].receive(m.hlc);
      delivered[node].add(m.id);
    } else {
      steppedBy[node] += step.byMs;
    }
  }
  return sent;
}

describe('HybridClock properties', () => {
  it('if m1 happened before m2 then hlc(m1) < hlc(m2), whatever the offsets, drifts and steps', () => {
    fc.assert(
      fc.property(
        fc.array(nodeClockArb, { minLength: 2, maxLength: 8 }),
        fc.array(stepArb, { minLength: 1, maxLength: 150 }),
        (clocks, steps) => {
          const sent = run(clocks, steps);
          for (const m2 of sent)
            for (const id of m2.past) expect(compareHlc(sent[id].hlc, m2.hlc)).toBeLessThan(0);
        },
      ),
    );
  });

  it('hlc.wallMs never runs ahead of the largest physical clock in the cluster', () => {
    fc.assert(
      fc.property(
        fc.array(nodeClockArb, { minLength: 2, maxLength: 8 }),
        fc.array(stepArb, { minLength: 1, maxLength: 150 }),
        (clocks, steps) => {
          for (const m of run(clocks, steps))
            expect(m.hlc.wallMs).toBeLessThanOrEqual(m.maxPhysical);
        },
      ),
    );
  });

  it('with every offset and drift 0 and no steps, hlc.wallMs is the sender’s physical time', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 8 }),
        fc.array(
          stepArb.filter((s) => s.kind !== 'step'),
          { minLength: 1, maxLength: 150 },
        ),
        (n, steps) => {
          const clocks = Array.from({ length: n }, () => ({ offsetMs: 0, driftPpm: 0 }));
          for (const m of run(clocks, steps)) expect(m.hlc.wallMs).toBe(m.sentPhysical);
        },
      ),
    );
  });
});
