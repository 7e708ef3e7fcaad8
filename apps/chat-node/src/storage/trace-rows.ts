import type { Hlc } from '@app/causal';
import type { ClockJson } from '@app/contracts';
import type { TraceEvent, TraceKind } from './message-log';

type Encoded = [ClockJson, TraceKind, string];

/** What a commit is stamped with: the node's HLC after it, true time and its own clock (ms). */
export interface CommitStamp {
  readonly hlc: Hlc;
  readonly at: number;
  readonly local: number;
}

/**
 * A commit's trace events as one row. Event clocks only grow, and consecutive events of a
 * commit differ in an entry or two, so each event keeps only the entries that changed since
 * the one before it (the first in full): a row can be read alone, and an event costs a few
 * bytes instead of an N-entry clock. `{"d": [[changes, kind, detail], …], "h": [wallMs,
 * logical], "t": [true ms, own clock ms]}`: `h` is the node's HLC after the commit, so a
 * restart resumes above every timestamp it gave out or merged at no extra write; `t` is
 * when the commit happened, the own clock left out when it equals true time. The events of
 * a commit happen in one turn of the event loop, so they share its time.
 */
export function encodeTraceRow(events: readonly TraceEvent[], stamp?: CommitStamp): string {
  const encoded: Encoded[] = [];
  let previous: ClockJson = {};
  for (const { clock, kind, detail } of events) {
    const changed: Record<string, number> = {};
    for (const id in clock) if (clock[id] !== previous[id]) changed[id] = clock[id];
    encoded.push([changed, kind, detail]);
    previous = clock;
  }
  if (!stamp) return JSON.stringify({ d: encoded });
  const { hlc, at, local } = stamp;
  return JSON.stringify({
    d: encoded,
    h: [hlc.wallMs, hlc.logical],
    t: local === at ? [at] : [at, local],
  });
}

/** The HLC a row was written with, if any. */
export function traceRowHlc(row: string): Hlc | undefined {
  const parsed = JSON.parse(row) as { h?: [number, number] } | unknown[];
  if (Array.isArray(parsed) || !parsed.h) return undefined;
  return { wallMs: parsed.h[0], logical: parsed.h[1] };
}

/** The events of a row, in order; rows written before the encoding (`[[clock, kind, detail], …]`) too. */
export function decodeTraceRow(row: string): TraceEvent[] {
  const parsed = JSON.parse(row) as Encoded[] | { d: Encoded[]; t?: [number, number?] };
  if (Array.isArray(parsed))
    return parsed.map(([clock, kind, detail]) => ({ clock, kind, detail }));
  const events: TraceEvent[] = [];
  let clock: ClockJson = {};
  const at = parsed.t?.[0];
  const local = parsed.t?.[1] ?? at;
  for (const [changed, kind, detail] of parsed.d) {
    clock = { ...clock, ...changed };
    events.push(at !== undefined ? { clock, kind, detail, at, local } : { clock, kind, detail });
  }
  return events;
}
