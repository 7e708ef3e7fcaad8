import { InvalidClockError, VectorClock } from './vector-clock';

const members = ['n0', 'n1', 'n2'];

describe('VectorClock', () => {
  it('reads absent entries as zero and ticks one entry', () => {
    const clock = VectorClock.zero.tick('n1').tick('n1');
    expect(clock.get('n1')).toBe(2);
    expect(clock.get('n0')).toBe(0);
    expect(clock.get('not-a-member')).toBe(0);
  });

  it('is immutable: tick and merge return new clocks', () => {
    const a = VectorClock.of({ n0: 1 });
    const b = a.tick('n0');
    expect(a.get('n0')).toBe(1);
    expect(b.get('n0')).toBe(2);
    const merged = a.merge(VectorClock.of({ n1: 3 }));
    expect(a.toJSON()).toEqual({ n0: 1 });
    expect(merged.toJSON()).toEqual({ n0: 1, n1: 3 });
  });

  it('sets one entry with `with`, keeping the rest, and drops it at zero', () => {
    const a = VectorClock.of({ n2: 5, n0: 1 });
    const b = a.with('n2', 6);
    expect(b.toJSON()).toEqual({ n0: 1, n2: 6 });
    expect(a.get('n2')).toBe(5);
    expect(b.ids).toBe(a.ids); // a tick shares the id list
    expect(a.with('n1', 2).toJSON()).toEqual({ n0: 1, n1: 2, n2: 5 });
    expect(a.with('n2', 0).toJSON()).toEqual({ n0: 1 });
  });

  it('writes JSON with ids in sorted order, whatever order the entries came in', () => {
    expect(JSON.stringify(VectorClock.of({ n2: 1, n0: 3, n1: 2 }))).toBe('{"n0":3,"n1":2,"n2":1}');
    expect(JSON.stringify(VectorClock.of({ b: 1, a: 2 }).with('c', 3))).toBe('{"a":2,"b":1,"c":3}');
    expect(VectorClock.of({ n1: 2, n0: 1 }).toRecord(['n0', 'n1', 'n2'])).toEqual({
      n0: 1,
      n1: 2,
      n2: 0,
    });
  });

  it('merges entry-wise maximum', () => {
    const a = VectorClock.of({ n0: 3, n1: 1 });
    const b = VectorClock.of({ n0: 1, n1: 4, n2: 2 });
    expect(a.merge(b).toJSON()).toEqual({ n0: 3, n1: 4, n2: 2 });
  });

  it.each([
    [{ n0: 1 }, { n0: 1, n1: 1 }, 'before'],
    [{ n0: 1, n1: 1 }, { n0: 1 }, 'after'],
    [{ n0: 1, n1: 0 }, { n0: 1 }, 'equal'],
    [{ n0: 1 }, { n1: 1 }, 'concurrent'],
    [{}, {}, 'equal'],
    [{}, { n2: 1 }, 'before'],
  ])('compares %j with %j as %s', (a, b, order) => {
    expect(VectorClock.of(a).compare(VectorClock.of(b))).toBe(order);
  });

  it("orders the seed's examples: [1,0,0] < [1,1,0] < [1,1,1], [1,0,0] || [0,1,0]", () => {
    const hello = VectorClock.of({ n0: 1 });
    const hi = VectorClock.of({ n0: 1, n1: 1 });
    const heyBoth = VectorClock.of({ n0: 1, n1: 1, n2: 1 });
    expect(hello.happenedBefore(hi)).toBe(true);
    expect(hi.happenedBefore(heyBoth)).toBe(true);
    expect(VectorClock.of({ n0: 1 }).compare(VectorClock.of({ n1: 1 }))).toBe('concurrent');
    expect(heyBoth.toArray(members)).toEqual([1, 1, 1]);
  });

  it('renders every member in member order, zeros included', () => {
    const clock = VectorClock.of({ n2: 5, n0: 1 });
    expect(clock.toRecord(members)).toEqual({ n0: 1, n1: 0, n2: 5 });
    expect(Object.keys(clock.toRecord(members))).toEqual(members);
    expect(clock.toArray(members)).toEqual([1, 0, 5]);
    expect(clock.total()).toBe(6);
  });

  describe('parse (untrusted input)', () => {
    it('accepts a valid clock and drops zeros', () => {
      const clock = VectorClock.parse({ n0: 2, n1: 0 }, members);
      expect(clock.toJSON()).toEqual({ n0: 2 });
    });

    it.each([
      [null, '', /must be an object/],
      [[1, 2], '', /must be an object/],
      ['n0', '', /must be an object/],
      [{ n9: 1 }, 'n9', /not a member/],
      [{ n0: -1 }, 'n0', /non-negative safe integer, got -1/],
      [{ n0: 1.5 }, 'n0', /got 1.5/],
      [{ n0: '1' }, 'n0', /got 1/],
      [{ n0: 2 ** 53 }, 'n0', /safe integer/],
      [{ n0: Number.NaN }, 'n0', /got NaN/],
      [{ n0: 1, n1: 1, n2: 1, n3: 1 }, '', /4 entries; the cluster has 3 members/],
    ])('rejects %j naming field %j', (input, field, reason) => {
      let error: unknown;
      try {
        VectorClock.parse(input, members);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(InvalidClockError);
      expect((error as InvalidClockError).field).toBe(field);
      expect((error as Error).message).toMatch(reason);
    });

    it('rejects prototype games', () => {
      const poisoned = JSON.parse('{"__proto__": {"n0": 5}}');
      expect(() => VectorClock.parse(poisoned, members)).toThrow(/__proto__.*not a member/);
      expect(() => VectorClock.parse({ constructor: 1 }, members)).toThrow(/constructor/);
      expect(() => VectorClock.parse(new Date(), members)).toThrow(/plain object/);
      expect(({} as Record<string, unknown>).n0).toBeUndefined();
    });

    it('accepts a null-prototype object', () => {
      const bare = Object.assign(Object.create(null), { n1: 4 });
      expect(VectorClock.parse(bare, members).get('n1')).toBe(4);
    });
  });
});
