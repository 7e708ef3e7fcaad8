import type { ClockJson } from '@app/contracts';
import type { TraceEvent, TraceKind } from '../storage/message-log';

/**
 * The event-level vector clock behind the ShiViz log. It ticks on every send, receive and
 * delivery, unlike the causal-delivery clock, which only counts delivered broadcasts.
 */
export class EventTrace {
  private clock: Record<string, number>;

  constructor(
    private readonly nodeId: string,
    restored: ClockJson = {},
  ) {
    this.clock = { ...restored };
  }

  get current(): ClockJson {
    return { ...this.clock };
  }

  /** Records one local event, merging a received clock first when there is one. */
  record(kind: TraceKind, detail: string, received?: ClockJson): TraceEvent {
    if (received) {
      // a validated clock record: plain object, own keys only
      for (const id in received) {
        const value = received[id];
        if (value > (this.clock[id] ?? 0)) this.clock[id] = value;
      }
    }
    this.clock[this.nodeId] = (this.clock[this.nodeId] ?? 0) + 1;
    return { clock: { ...this.clock }, kind, detail };
  }
}

/** Two ShiViz lines per event; pages of a log concatenate to the whole log after SHIVIZ_HEADER. */
export function toShiVizLines(nodeId: string, events: readonly TraceEvent[]): string {
  let text = '';
  for (const event of events)
    text += `${nodeId} ${JSON.stringify(event.clock)}\n${event.kind} ${event.detail}\n`;
  return text;
}
