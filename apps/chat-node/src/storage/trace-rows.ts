import type { ClockJson } from '@app/contracts';
import type { TraceEvent, TraceKind } from './message-log';

/** `[changed entries, kind, detail]`, then true time and the node's clock (ms) when known. */
type Encoded = [ClockJson, TraceKind, string] | [ClockJson, TraceKind, string, number, number];

/**
 * A commit's trace events as one row. Event clocks only grow, and consecutive events of a
 * commit differ in an entry or two, so each event keeps only the entries that changed since
 * the one before it (the first in full): a row can be read alone, and an event costs a few
 * bytes instead of an N-entry clock. `{"d": [[changes, kind, detail], …]}`.
 */
export function encodeTraceRow(events: readonly TraceEvent[]): string {
  const encoded: Encoded[] = [];
  let previous: ClockJson = {};
  for (const { clock, kind, detail, at, local } of events) {
    const changed: Record<string, number> = {};
    for (const id in clock) if (clock[id] !== previous[id]) changed[id] = clock[id];
    encoded.push(
      at !== undefined && local !== undefined
        ? [changed, kind, detail, at, local]
        : [changed, kind, detail],
    );
    previous = clock;
  }
  return JSON.stringify({ d: encoded });
}

/** The events of a row, in order; rows written before the encoding (`[[clock, kind, detail], …]`) too. */
export function decodeTraceRow(row: string): TraceEvent[] {
  const parsed = JSON.parse(row) as Encoded[] | { d: Encoded[] };
  if (Array.isArray(parsed))
    return parsed.map(([clock, kind, detail]) => ({ clock, kind, detail }));
  const events: TraceEvent[] = [];
  let clock: ClockJson = {};
  for (const [changed, kind, detail, at, local] of parsed.d) {
    clock = { ...clock, ...changed };
    events.push(at !== undefined ? { clock, kind, detail, at, local } : { clock, kind, detail });
  }
  return events;
}
