import { PhysicalClock } from './physical-clock';

describe('PhysicalClock', () => {
  it('is true time plus its offset, plus the drift accumulated since it was set', () => {
    let t = 1_000_000;
    const clock = new PhysicalClock(() => t, -5_000, 1_000);
    expect(clock.raw()).toBe(995_000);
    t += 3_600_000; // an hour at 1,000 ppm: 3.6 s more
    expect(clock.offsetMs()).toBeCloseTo(-1_400);
    expect(clock.raw()).toBeCloseTo(t - 1_400);
  });

  it('keeps its current error when only the drift changes (no step), steps when the offset does', () => {
    let t = 0;
    const clock = new PhysicalClock(() => t, 0, 500);
    t = 1_000_000;
    const before = clock.raw();
    clock.set({ driftPpm: 0 });
    expect(clock.raw()).toBeCloseTo(before);
    t = 2_000_000;
    expect(clock.offsetMs()).toBeCloseTo(500);
    clock.set({ offsetMs: -3_600_000 });
    expect(clock.raw()).toBe(t - 3_600_000);
  });

  it('adds the correction to now(), never to raw()', () => {
    const clock = new PhysicalClock(() => 10_000, 250);
    clock.correctionMs = -250;
    expect(clock.now()).toBe(10_000);
    expect(clock.raw()).toBe(10_250);
    expect(clock.iso()).toBe(new Date(10_000).toISOString());
  });
});
