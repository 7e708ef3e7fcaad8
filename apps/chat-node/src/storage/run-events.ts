import type { VectorClock } from '@app/causal';
import type { ClockJson, RunEvent } from '@app/contracts';
import type { Delivery, TraceEvent } from './message-log';

/** Kinds whose detail starts with the message id (`n0:3 …`). */
const MESSAGE_KINDS = new Set(['send', 'receive', 'deliver', 'duplicate', 'lost', 'copied']);
const MESSAGE_ID = /^([A-Za-z][A-Za-z0-9_-]{0,31}):([1-9]\d{0,14})(?: |$)/;

/**
 * A node's trace events as run events: each with its commit's true time and the node's own
 * clock, and for message events what a replay needs of the message — id, clock, hlc, text and
 * (for a delivery) its index — looked up in the node's log by `lookup`. A message the node
 * received but has not delivered (still held back) is named by its id only. Events from
 * before commits were stamped with their time are left out: a run is a window of time.
 */
export function toRunEvents(
  nodeId: string,
  events: readonly TraceEvent[],
  lookup: (sender: string, seq: number) => Delivery | undefined,
  window: { fromMs: number; toMs: number } = { fromMs: -Infinity, toMs: Infinity },
): RunEvent[] {
  const out: RunEvent[] = [];
  for (const event of events) {
    if (event.at === undefined || event.at < window.fromMs || event.at > window.toMs) continue;
    const base = { at: event.at, local: event.local ?? event.at, node: nodeId, kind: event.kind };
    const match = MESSAGE_KINDS.has(event.kind) ? MESSAGE_ID.exec(event.detail) : null;
    if (!match) {
      out.push({ ...base, detail: event.detail });
      continue;
    }
    const sender = match[1];
    const seq = Number(match[2]);
    const found = lookup(sender, seq);
    const m = found?.message;
    out.push({
      ...base,
      id: `${sender}:${seq}`,
      sender,
      seq,
      ...(m
        ? {
            clock: clockJson(m.clock),
            ...(m.hlc ? { hlc: m.hlc } : {}),
            text: m.text,
            ...(m.member ? { member: m.member } : {}),
          }
        : {}),
      ...(found && event.kind === 'deliver' ? { index: found.index } : {}),
    });
  }
  return out;
}

function clockJson(clock: VectorClock): ClockJson {
  return clock.toJSON() as ClockJson;
}
