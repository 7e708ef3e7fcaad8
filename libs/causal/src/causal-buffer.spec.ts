import {
  CausalBuffer,
  CausalMessage,
  HoldBackOverflowError,
  InvalidCausalMessageError,
  MAX_AHEAD_LIMIT,
  TooFarAheadError,
} from './causal-buffer';
import { VectorClock } from './vector-clock';

interface Msg extends CausalMessage {
  readonly text: string;
}

const msg = (sender: string, clock: Record<string, number>, text = ''): Msg => ({
  sender,
  seq: clock[sender],
  clock: VectorClock.of(clock),
  text,
});
const ids = (messages: readonly Msg[]) => messages.map((m) => `${m.sender}:${m.seq}`);

describe('CausalBuffer', () => {
  it('delivers a message whose causal past is delivered', () => {
    const buffer = new CausalBuffer<Msg>({ capacity: 10 });
    expect(ids(buffer.receive(msg('n0', { n0: 1 })))).toEqual(['n0:1']);
    expect(buffer.clock().toJSON()).toEqual({ n0: 1 });
  });

  it('holds a reply back until its cause arrives, then delivers both in causal order', () => {
    const buffer = new CausalBuffer<Msg>({ capacity: 10 });
    const hello = msg('n0', { n0: 1 }, 'Hello');
    const hi = msg('n1', { n0: 1, n1: 1 }, 'Hi');
    expect(buffer.receive(hi)).toEqual([]);
    expect(buffer.size).toBe(1);
    expect(buffer.pending()).toEqual([{ message: hi, waitingFor: [{ node: 'n0', seq: 1 }] }]);
    expect(buffer.receive(hello).map((m) => m.text)).toEqual(['Hello', 'Hi']);
    expect(buffer.size).toBe(0);
  });

  it("delivers the seed's chain [1,0,0] -> [1,1,0] -> [1,1,1] whatever the arrival order", () => {
    const buffer = new CausalBuffer<Msg>({ capacity: 10 });
    const heyBoth = msg('n2', { n0: 1, n1: 1, n2: 1 }, 'Hey both!');
    const hi = msg('n1', { n0: 1, n1: 1 }, 'Hi');
    const hello = msg('n0', { n0: 1 }, 'Hello');
    expect(buffer.receive(heyBoth)).toEqual([]);
    expect(buffer.receive(hi)).toEqual([]);
    expect(buffer.pending().find((p) => p.message === heyBoth)?.waitingFor).toEqual([
      { node: 'n0', seq: 1 },
      { node: 'n1', seq: 1 },
    ]);
    expect(buffer.receive(hello).map((m) => m.text)).toEqual(['Hello', 'Hi', 'Hey both!']);
  });

  it('delivers concurrent messages in arrival order without holding either', () => {
    const buffer = new CausalBuffer<Msg>({ capacity: 10 });
    expect(ids(buffer.receive(msg('n1', { n1: 1 })))).toEqual(['n1:1']);
    expect(ids(buffer.receive(msg('n0', { n0: 1 })))).toEqual(['n0:1']);
  });

  it('enforces FIFO per sender', () => {
    const buffer = new CausalBuffer<Msg>({ capacity: 10 });
    expect(buffer.receive(msg('n0', { n0: 2 }))).toEqual([]);
    expect(buffer.pending()[0].waitingFor).toEqual([{ node: 'n0', seq: 1 }]);
    expect(ids(buffer.receive(msg('n0', { n0: 1 })))).toEqual(['n0:1', 'n0:2']);
  });

  it('drops and counts duplicates, delivered or held back', () => {
    const buffer = new CausalBuffer<Msg>({ capacity: 10 });
    buffer.receive(msg('n0', { n0: 1 }));
    expect(buffer.receive(msg('n0', { n0: 1 }))).toEqual([]);
    buffer.receive(msg('n0', { n0: 3 }));
    expect(buffer.receive(msg('n0', { n0: 3 }))).toEqual([]);
    expect(buffer.size).toBe(1);
    expect(buffer.stats.duplicates).toBe(2);
    expect(buffer.has('n0', 3)).toBe(true);
    expect(buffer.has('n0', 2)).toBe(false);
  });

  it('refuses, with a counted error naming the node and the limit, when full', () => {
    const buffer = new CausalBuffer<Msg>({ capacity: 2, nodeId: 'n2' });
    buffer.receive(msg('n0', { n0: 2 }));
    buffer.receive(msg('n0', { n0: 3 }));
    expect(() => buffer.receive(msg('n0', { n0: 4 }))).toThrow(HoldBackOverflowError);
    expect(() => buffer.receive(msg('n0', { n0: 5 }))).toThrow(
      'node n2: hold-back queue is full (capacity 2); refused n0:5',
    );
    expect(buffer.stats.overflows).toBe(2);
    expect(buffer.size).toBe(2);
    // A deliverable message is never refused, even when the queue is full.
    expect(ids(buffer.receive(msg('n0', { n0: 1 })))).toEqual(['n0:1', 'n0:2', 'n0:3']);
  });

  it('refuses clocks that run absurdly far ahead', () => {
    const buffer = new CausalBuffer<Msg>({ capacity: 10, maxAhead: 100, nodeId: 'n1' });
    expect(() => buffer.receive(msg('n0', { n0: 1, n2: 5000 }))).toThrow(TooFarAheadError);
    expect(() => buffer.receive(msg('n0', { n0: 5000 }))).toThrow(/n0=5000 is more than 100 ahead/);
    expect(buffer.stats.tooFarAhead).toBe(2);
    expect(buffer.size).toBe(0);
  });

  it('measures maxAhead from the local counts, not from zero', () => {
    const buffer = new CausalBuffer<Msg>({ capacity: 10, maxAhead: 100, nodeId: 'n1' });
    for (let seq = 1; seq <= 150; seq++) buffer.receive(msg('n0', { n0: seq }));
    // 160 > maxAhead, but only 10 ahead of the 150 delivered: held, not refused.
    expect(buffer.receive(msg('n0', { n0: 160, n2: 50 }))).toEqual([]);
    expect(buffer.size).toBe(1);
    expect(() => buffer.receive(msg('n0', { n0: 251 }))).toThrow(
      'node n1: clock entry n0=251 is more than 100 ahead of local 150',
    );
    expect(() => buffer.receive(msg('n0', { n0: 152, n2: 101 }))).toThrow(
      /n2=101 is more than 100/,
    );
    expect(buffer.stats.tooFarAhead).toBe(2);
  });

  it('rejects a message whose seq disagrees with its clock', () => {
    const buffer = new CausalBuffer<Msg>({ capacity: 10 });
    const bad = { sender: 'n0', seq: 2, clock: VectorClock.of({ n0: 1 }), text: '' };
    expect(() => buffer.receive(bad)).toThrow(InvalidCausalMessageError);
    const zero = { sender: 'n0', seq: 0, clock: VectorClock.zero, text: '' };
    expect(() => buffer.receive(zero)).toThrow(/seq/);
  });

  it('resumes from an initial clock (a restart)', () => {
    const buffer = new CausalBuffer<Msg>({ capacity: 10, initial: VectorClock.of({ n0: 5 }) });
    expect(buffer.receive(msg('n0', { n0: 5 }))).toEqual([]);
    expect(buffer.stats.duplicates).toBe(1);
    expect(ids(buffer.receive(msg('n0', { n0: 6 })))).toEqual(['n0:6']);
  });

  it('lists the gaps it has never seen, merged into ranges', () => {
    const buffer = new CausalBuffer<Msg>({ capacity: 10 });
    buffer.receive(msg('n0', { n0: 1 }));
    buffer.receive(msg('n0', { n0: 3 }));
    buffer.receive(msg('n0', { n0: 6 }));
    buffer.receive(msg('n1', { n1: 1, n2: 4 }));
    expect(buffer.missing()).toEqual([
      { node: 'n0', fromSeq: 2, toSeq: 2 },
      { node: 'n0', fromSeq: 4, toSeq: 5 },
      { node: 'n2', fromSeq: 1, toSeq: 4 },
    ]);
  });

  it('extends the gaps to a horizon heard from a peer (a lost last message)', () => {
    const buffer = new CausalBuffer<Msg>({ capacity: 10 });
    buffer.receive(msg('n0', { n0: 1 }));
    expect(buffer.missing()).toEqual([]);
    expect(buffer.missing(VectorClock.of({ n0: 3, n1: 1 }))).toEqual([
      { node: 'n0', fromSeq: 2, toSeq: 3 },
      { node: 'n1', fromSeq: 1, toSeq: 1 },
    ]);
  });

  it('wakes only what a delivery unblocks: a long chain released by one message stays linear', () => {
    const buffer = new CausalBuffer<Msg>({ capacity: 200_000 });
    const count = 100_000;
    for (let seq = count; seq >= 2; seq--) buffer.receive(msg('n0', { n0: seq }));
    expect(buffer.size).toBe(count - 1);
    const released = buffer.receive(msg('n0', { n0: 1 }));
    expect(released).toHaveLength(count);
    expect(released.every((m, i) => m.seq === i + 1)).toBe(true);
    expect(buffer.stats.maxHeld).toBe(count - 1);
  });

  it('keeps numbers that share a ring slot apart as the window slides', () => {
    // Rings start 16 wide: 3 and 19 (and 35) land in the same slot at different times.
    const buffer = new CausalBuffer<Msg>({ capacity: 100 });
    const delivered: string[] = [];
    const take = (m: Msg) => delivered.push(...ids(buffer.receive(m)));
    for (let seq = 1; seq <= 18; seq++) take(msg('n0', { n0: seq }));
    take(msg('n0', { n0: 20 })); // held: 19 missing
    expect(buffer.has('n0', 20)).toBe(true);
    expect(buffer.has('n0', 4)).toBe(true); // delivered, though slot 4 is 20's slot
    expect(buffer.has('n0', 36)).toBe(false); // same slot as 20, not held
    take(msg('n0', { n0: 36 })); // widens the ring while 20 is held
    expect(buffer.missing()).toEqual([
      { node: 'n0', fromSeq: 19, toSeq: 19 },
      { node: 'n0', fromSeq: 21, toSeq: 35 },
    ]);
    take(msg('n0', { n0: 19 }));
    expect(delivered.slice(-2)).toEqual(['n0:19', 'n0:20']);
    for (let seq = 35; seq >= 21; seq--) take(msg('n0', { n0: seq }));
    expect(buffer.size).toBe(0);
    expect(delivered).toHaveLength(36);
    expect(delivered.every((id, i) => id === `n0:${i + 1}`)).toBe(true);
  });

  it('widens a lane while messages are parked on it, without losing any', () => {
    const buffer = new CausalBuffer<Msg>({ capacity: 1_000 });
    // n1's messages wait for n0:5 (parked in n0's lane); then n0 jumps 500 ahead.
    for (let seq = 1; seq <= 10; seq++) buffer.receive(msg('n1', { n0: 5, n1: seq }));
    buffer.receive(msg('n0', { n0: 500 }));
    buffer.receive(msg('n1', { n0: 400, n1: 11 }));
    expect(buffer.pending().find((p) => p.message.seq === 11)?.waitingFor).toEqual([
      { node: 'n0', seq: 1 },
      { node: 'n1', seq: 1 },
    ]);
    const out: Msg[] = [];
    for (let seq = 1; seq <= 499; seq++) out.push(...buffer.receive(msg('n0', { n0: seq })));
    const order = ids(out);
    expect(order).toHaveLength(511);
    expect(order.indexOf('n1:1')).toBe(order.indexOf('n0:5') + 1);
    expect(order.indexOf('n1:11')).toBeGreaterThan(order.indexOf('n0:400'));
    expect(order.at(-1)).toBe('n0:500');
    expect(buffer.size).toBe(0);
  });

  it('bounds maxAhead, which bounds the memory a far-ahead clock can claim', () => {
    expect(() => new CausalBuffer<Msg>({ capacity: 1, maxAhead: MAX_AHEAD_LIMIT + 1 })).toThrow(
      /maxAhead must be an integer in 1\.\.4194304/,
    );
    const buffer = new CausalBuffer<Msg>({ capacity: 10 });
    expect(() => buffer.receive(msg('n0', { n0: MAX_AHEAD_LIMIT + 2 }))).toThrow(TooFarAheadError);
  });

  it('rejects a non-positive capacity', () => {
    expect(() => new CausalBuffer<Msg>({ capacity: 0 })).toThrow(
      /capacity must be a positive integer/,
    );
  });
});
