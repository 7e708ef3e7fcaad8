import type { VectorClock } from '@app/causal';
import type { ClockJson, RunEvent } from '@app/contracts';
import type { Delivery, TraceEvent } from './message-log';

/** Kinds whose detail starts with the message id (`n0:3 …`). */
const MESSAGE_KINDS = new Set(['send', 'receive', 'deliver', 'duplicate', 'lost', 'copied']);
const MESSAGE_ID = /^([A-Za-z][A-Za-z0-9_-]{0,31}):([1-9]\d{0,14})(?: |$)/;

/**
 * One trace event of a node as a run event: with its commit's true time and the node's own
 * clock, and for a message event what a replay needs of the message — id, clock, hlc, text
 * and (for a delivery) its index — looked up in the node's log by `lookup`. A message the
 * node received but has not delivered (still held back) is named by its id only. Undefined
 * for an event outside the window, or from before commits were stamped with their time.
 */
export function toRunEvent(
  nodeId: string,
  event: TraceEvent,
  lookup: (sender: string, seq: number) => Delivery | undefined,
  window: { fromMs: number; toMs: number } = { fromMs: -Infinity, toMs: Infinity },
): RunEvent | undefined {
  if (event.at === undefined || event.at < window.fromMs || event.at > window.toMs)
    return undefined;
  const base = { at: event.at, local: event.local ?? event.at, node: nodeId, kind: event.kind };
  const match = MESSAGE_KINDS.has(event.kind) ? MESSAGE_ID.exec(event.detail) : null;
  if (!match) return { ...base, detail: event.detail };
  const sender = match[1];
  const seq = Number(match[2]);
  const found = lookup(sender, seq);
  const m = found?.message;
  return {
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
  };
}

function clockJson(clock: VectorClock): ClockJson {
  return clock.toJSON() as ClockJson;
}
