import { decodeTraceRow, encodeTraceRow, traceRowHlc } from './trace-rows';
import type { TraceEvent } from './message-log';

const ids = Array.from({ length: 12 }, (_, i) => `n${i}`);

/** A commit's events as a node makes them: its own entry ticks, a receive merges a peer's. */
function commit(count: number): TraceEvent[] {
  let clock: Record<string, number> = Object.fromEntries(ids.map((id, i) => [id, 1000 + i]));
  return Array.from({ length: count }, (_, i) => {
    clock = {
      ...clock,
      n0: clock.n0 + 1,
      ...(i % 2 ? { [ids[i % 12]]: clock[ids[i % 12]] + 3 } : {}),
    };
    return { clock, kind: i % 2 ? 'receive' : 'deliver', detail: `n${i % 12}:${i}` };
  });
}

describe('trace rows', () => {
  it('reads back exactly the events written, in order', () => {
    const events = commit(50);
    expect(decodeTraceRow(encodeTraceRow(events))).toEqual(events);
    expect(decodeTraceRow(encodeTraceRow([]))).toEqual([]);
  });

  it('keeps the first clock whole and only what changed after it', () => {
    const events = commit(50);
    const row = JSON.parse(encodeTraceRow(events)) as { d: [Record<string, number>][] };
    expect(Object.keys(row.d[0][0])).toHaveLength(12);
    for (const [changed] of row.d.slice(1))
      expect(Object.keys(changed).length).toBeLessThanOrEqual(2);
    const plain = JSON.stringify(events.map((e) => [e.clock, e.kind, e.detail]));
    expect(encodeTraceRow(events).length).toBeLessThan(plain.length / 3);
  });

  it('reads rows written before the encoding', () => {
    const events = commit(3);
    const old = JSON.stringify(events.map((e) => [e.clock, e.kind, e.detail]));
    expect(decodeTraceRow(old)).toEqual(events);
  });

  it('stamps a row with the HLC after the commit and its true and own time', () => {
    const events = commit(3);
    const hlc = { wallMs: 1_800_000_000_000, logical: 7 };
    const skewed = encodeTraceRow(events, { hlc, at: 1_000, local: 6_000 });
    expect(traceRowHlc(skewed)).toEqual(hlc);
    expect(decodeTraceRow(skewed)).toEqual(events.map((e) => ({ ...e, at: 1_000, local: 6_000 })));
    const right = encodeTraceRow(events, { hlc, at: 1_000, local: 1_000 });
    expect(JSON.parse(right).t).toEqual([1_000]); // the own clock only where it differs
    expect(decodeTraceRow(right)[0]).toMatchObject({ at: 1_000, local: 1_000 });
    expect(traceRowHlc(encodeTraceRow(events))).toBeUndefined();
  });
});
