import type { Hlc } from './time';
import type { ClockJson } from './messages';
import type { MemberChange } from './membership';

/** What a run's events can be (see docs/run-format.md). */
export const RUN_EVENT_KINDS = [
  'send',
  'receive',
  'deliver',
  'duplicate',
  'lost',
  'copied',
  'link',
  'clock',
  'inbox',
] as const;
export type RunEventKind = (typeof RUN_EVENT_KINDS)[number];

export const RUN_FORMAT = 'causal-chat-run';
export const RUN_VERSION = 1;

/**
 * One event of a run at one node. `at` is true time (ms), `local` the node's own clock (ms).
 * Message events name the message and carry what a replay needs of it.
 */
export interface RunEvent {
  readonly at: number;
  readonly local: number;
  readonly node: string;
  readonly kind: RunEventKind;
  /** `sender:seq` of the message concerned (message events). */
  readonly id?: string;
  readonly sender?: string;
  readonly seq?: number;
  readonly clock?: ClockJson;
  readonly hlc?: Hlc;
  readonly text?: string;
  readonly member?: MemberChange;
  /** A delivery's place in the node's delivery order. */
  readonly index?: number;
  /** Settings events: what changed, as the node logged it. */
  readonly detail?: string;
}

/** One page of a node's run events (`node.run`). */
export interface RunPage {
  readonly nodeId: string;
  readonly events: RunEvent[];
  /** The cursor to read on from (`row:skip`), or null at the end of the window or of the log. */
  readonly next: string | null;
}

/** The run file's header: everything but the events. */
export interface RunHeader {
  readonly format: typeof RUN_FORMAT;
  readonly version: typeof RUN_VERSION;
  /** The window of true time (ms) the run covers, both ends included. */
  readonly from: number;
  readonly to: number;
  /** The members whose events are in it, in the cluster's order. */
  readonly members: string[];
  readonly createdAt: string;
}

/**
 * Merges nodes' event streams, each in time order, into one in time order (ties by the
 * order of `streams`): constant memory, one pending event per stream.
 */
export async function* mergeRunStreams(
  streams: AsyncIterable<RunEvent>[],
): AsyncGenerator<RunEvent> {
  const iterators = streams.map((s) => s[Symbol.asyncIterator]());
  const heads = await Promise.all(iterators.map((it) => it.next()));
  for (;;) {
    let pick = -1;
    for (let i = 0; i < heads.length; i++)
      if (!heads[i].done && (pick < 0 || heads[i].value.at < heads[pick].value.at)) pick = i;
    if (pick < 0) return;
    yield heads[pick].value as RunEvent;
    heads[pick] = await iterators[pick].next();
  }
}
