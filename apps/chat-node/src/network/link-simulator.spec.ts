import { InvalidLinkSettingsError, LinkSimulator, parseLinkSettings } from './link-simulator';

const quiet = { delayMs: 0, jitterMs: 0, dropRate: 0, duplicateRate: 0, partitioned: false };

describe('LinkSimulator', () => {
  it('passes packets straight through when the link is clean', () => {
    const link = new LinkSimulator('n0', quiet, 1);
    let delivered = 0;
    for (let i = 0; i < 100; i++) link.pass(() => delivered++);
    expect(delivered).toBe(100);
  });

  it('drops and duplicates at about the configured rates, the same way for the same seed', () => {
    const run = (seed: number) => {
      const link = new LinkSimulator('n0', { ...quiet, dropRate: 0.3, duplicateRate: 0.2 }, seed);
      let delivered = 0;
      for (let i = 0; i < 10_000; i++) link.pass(() => delivered++);
      return { delivered, ...link.counters };
    };
    const a = run(42);
    expect(a).toEqual(run(42));
    expect(a.dropped / 10_000).toBeCloseTo(0.3, 1);
    expect(a.duplicated / (10_000 - a.dropped)).toBeCloseTo(0.2, 1);
    expect(a.delivered).toBe(10_000 - a.dropped + a.duplicated);
  });

  it('cuts everything while partitioned, including packets already in flight', async () => {
    const link = new LinkSimulator('n0', { ...quiet, delayMs: 30 }, 1);
    let delivered = 0;
    link.pass(() => delivered++);
    link.update({ partitioned: true });
    link.pass(() => delivered++);
    expect(await link.admit()).toBe(false);
    await new Promise((r) => setTimeout(r, 60));
    expect(delivered).toBe(0);
    expect(link.counters.dropped).toBe(3);
    link.reset();
    expect(link.current).toEqual({ ...quiet, delayMs: 30 });
  });

  it('reorders with jitter', async () => {
    const link = new LinkSimulator('n0', { ...quiet, jitterMs: 50 }, 7);
    const order: number[] = [];
    for (let i = 0; i < 20; i++) link.pass(() => order.push(i));
    await new Promise((r) => setTimeout(r, 80));
    expect(order).toHaveLength(20);
    expect(order).not.toEqual([...order].sort((a, b) => a - b));
  });

  it.each([
    [{ dropRate: 2 }, 'dropRate', /number 0..1, got 2/],
    [{ delayMs: -1 }, 'delayMs', /integer 0..60000/],
    [{ partitioned: 'yes' }, 'partitioned', /boolean/],
    [{ bogus: 1 }, 'bogus', /not a link setting/],
  ])('rejects %j naming %s', (input, field, reason) => {
    let error: unknown;
    try {
      parseLinkSettings(input);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidLinkSettingsError);
    expect((error as InvalidLinkSettingsError).field).toBe(field);
    expect((error as Error).message).toMatch(reason);
  });
});
