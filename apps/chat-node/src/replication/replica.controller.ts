import { Controller, Inject, UseFilters } from '@nestjs/common';
import { Ctx, EventPattern, MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import {
  FetchRange,
  FetchRequest,
  HistoryPage,
  Limits,
  LinkSettings,
  LogPage,
  NodeState,
  ReplicaEvents,
  Requests,
  RunEvent,
  RunPage,
} from '@app/contracts';
import { ConnectionAudit, ZmqContext } from '@app/zmq-transport';
import type { NodeConfig } from '../config/node.config';
import { CONNECTION_AUDIT, NODE_CONFIG } from '../config/node.tokens';
import { Membership } from '../membership/membership';
import { Network } from '../network/network';
import { MessageLog } from '../storage/message-log';
import { toRunEvent } from '../storage/run-events';
import { toShiVizLines } from '../trace/event-trace';
import {
  InvalidReplicaMessageError,
  parseReplicaMessage,
  parseSendRequest,
} from './replica-message.parser';
import { Inbox } from '../inbox/inbox';
import { ClockSync } from '../time/clock-sync';
import { Repair } from './repair';
import { Replica } from './replica';
import { RpcErrorFilter } from './rpc-error.filter';

/** About how much JSON one page of a run may hold: far below a 1 MiB frame. */
const RUN_PAGE_BYTES = 256 * 1024;

/** `{after, limit}` of a paged request: a cursor from 0 and a page size from 1 to `max`. */
function pageOf(body: unknown, fallback: number, max: number): { after: number; limit: number } {
  const { after = 0, limit = fallback } = (body ?? {}) as { after?: unknown; limit?: unknown };
  if (!Number.isSafeInteger(after) || (after as number) < 0)
    throw new InvalidReplicaMessageError('after', 'must be a non-negative integer');
  if (!Number.isSafeInteger(limit) || (limit as number) < 1 || (limit as number) > max)
    throw new InvalidReplicaMessageError('limit', `must be an integer from 1 to ${max}`);
  return { after: after as number, limit: limit as number };
}

/** What a node answers and listens to. Every input is validated here, at the edge. */
@Controller()
@UseFilters(RpcErrorFilter)
export class ReplicaController {
  /** Every id this node has known (Membership's live set). */
  private readonly memberSet: ReadonlySet<string>;
  /** publisher endpoint -> the member that publishes there (Membership's live map) */
  private readonly publishers: ReadonlyMap<string, string>;

  constructor(
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
    private readonly replica: Replica,
    private readonly repair: Repair,
    private readonly network: Network,
    private readonly membership: Membership,
    @Inject(CONNECTION_AUDIT) private readonly audit: ConnectionAudit,
    private readonly clockSync: ClockSync,
    private readonly inbox: Inbox,
    private readonly messageLog: MessageLog,
  ) {
    this.memberSet = membership.known;
    this.publishers = membership.publishers;
  }

  @MessagePattern(Requests.send)
  async send(@Payload() body: unknown) {
    const { text, author, replyTo } = parseSendRequest(body, this.memberSet);
    const refusal = this.replica.notAccepting();
    if (refusal) throw new RpcException({ code: refusal.code, message: refusal.message });
    if (replyTo)
      await this.replica.whenDelivered(replyTo.sender, replyTo.seq, this.config.requestTimeoutMs);
    return this.replica.originate(text, author);
  }

  @MessagePattern(Requests.history)
  history(@Payload() body: unknown): HistoryPage {
    const { after, limit } = pageOf(body, 100, Limits.historyPageMax);
    return {
      nodeId: this.config.nodeId,
      messages: this.replica.history(after, limit),
      lastIndex: this.replica.announcedIndex,
    };
  }

  @MessagePattern(Requests.state)
  state(@Payload() data?: unknown): NodeState {
    // `{announce: true}`: publish the clock now, so a subscriber that just joined gets a frame.
    if ((data as { announce?: unknown } | null | undefined)?.announce === true)
      this.replica.announceClock();
    const network = this.network.counters();
    const buffer = this.replica.bufferStats();
    return {
      nodeId: this.config.nodeId,
      members: this.membership.current().map((m) => m.id),
      membership: this.membership.all(),
      clock: this.replica.clockJson(),
      lastIndex: this.replica.announcedIndex,
      buffered: this.replica.held(),
      bufferCapacity: buffer.capacity,
      maxHeld: buffer.maxHeld,
      peers: this.repair.peerViews(),
      links: this.network.settings(),
      counters: {
        ...this.replica.counters,
        linkDropped: network.dropped,
        linkDuplicated: network.duplicated,
        connectionsRejected: this.audit.rejectedTotal,
      },
      connections: this.audit.report(),
      startedAt: this.replica.startedAt,
      time: this.clockSync.view(),
    };
  }

  /** One page of the event log; the gateway streams a whole log page by page. */
  @MessagePattern(Requests.log)
  log(@Payload() body: unknown): LogPage {
    const { after, limit } = pageOf(body, Limits.logPageMaxEvents, Limits.logPageMaxEvents);
    const page = this.replica.tracePage(after, limit);
    return {
      nodeId: this.config.nodeId,
      format: 'shiviz',
      text: toShiVizLines(this.config.nodeId, page.events),
      events: page.events.length,
      next: page.next,
    };
  }

  /**
   * One page of the node's run: its events in a window of true time, with their messages.
   * A page ends after `limit` events or about 256 KiB of JSON, even inside a commit's row (a
   * catch-up commits hundreds of messages at once): the cursor is `row:skip`, the row before
   * and how many events of the next one were already given.
   */
  @MessagePattern(Requests.run)
  run(@Payload() body: unknown): RunPage {
    const { after, limit, fromMs, toMs } = this.parseRun(body);
    let [row, skip] = after ?? [
      fromMs === -Infinity ? 0 : this.messageLog.traceCursorAt(fromMs),
      0,
    ];
    const events: RunEvent[] = [];
    let bytes = 0;
    const lookup = (sender: string, seq: number) => this.messageLog.delivery(sender, seq);
    for (const trace of this.messageLog.traceRows(row)) {
      if (trace.events[0]?.at !== undefined && trace.events[0].at > toMs)
        return { nodeId: this.config.nodeId, events, next: null };
      for (let k = skip; k < trace.events.length; k++) {
        if (events.length >= limit || bytes >= RUN_PAGE_BYTES)
          return { nodeId: this.config.nodeId, events, next: `${row}:${k}` };
        const event = toRunEvent(this.config.nodeId, trace.events[k], lookup, { fromMs, toMs });
        if (!event) continue;
        events.push(event);
        bytes += JSON.stringify(event).length;
      }
      row = trace.idx;
      skip = 0;
    }
    return { nodeId: this.config.nodeId, events, next: null };
  }

  private parseRun(body: unknown) {
    const {
      after,
      limit = Limits.logPageMaxEvents,
      fromMs = -Infinity,
      toMs = Infinity,
    } = (body ?? {}) as Record<string, unknown>;
    let cursor: [number, number] | undefined;
    if (after !== undefined) {
      const match = typeof after === 'string' ? /^(\d{1,15}):(\d{1,9})$/.exec(after) : null;
      if (!match) throw new InvalidReplicaMessageError('after', 'must be a cursor "row:skip"');
      cursor = [Number(match[1]), Number(match[2])];
    }
    if (
      !Number.isSafeInteger(limit) ||
      (limit as number) < 1 ||
      (limit as number) > Limits.logPageMaxEvents
    )
      throw new InvalidReplicaMessageError(
        'limit',
        `must be an integer from 1 to ${Limits.logPageMaxEvents}`,
      );
    if (typeof fromMs !== 'number' || Number.isNaN(fromMs))
      throw new InvalidReplicaMessageError('fromMs', 'must be a time in ms');
    if (typeof toMs !== 'number' || Number.isNaN(toMs))
      throw new InvalidReplicaMessageError('toMs', 'must be a time in ms');
    return { after: cursor, limit: limit as number, fromMs, toMs };
  }

  @MessagePattern(Requests.networkGet)
  networkGet(): { nodeId: string; links: Record<string, LinkSettings> } {
    return { nodeId: this.config.nodeId, links: this.network.settings() };
  }

  @MessagePattern(Requests.networkSet)
  networkSet(@Payload() body: unknown): { nodeId: string; from: string; settings: LinkSettings } {
    const { from, settings } = (body ?? {}) as { from?: unknown; settings?: unknown };
    const set = this.network.set(from, settings);
    this.replica.note('link', `${String(from)}->${this.config.nodeId} ${JSON.stringify(set)}`);
    return { nodeId: this.config.nodeId, from: from as string, settings: set };
  }

  @MessagePattern(Requests.networkReset)
  networkReset(): { nodeId: string; links: Record<string, LinkSettings> } {
    const links = this.network.reset();
    this.replica.note('link', `reset ${JSON.stringify(links)}`);
    return { nodeId: this.config.nodeId, links };
  }

  @MessagePattern(Requests.fetch)
  async fetch(@Payload() body: unknown) {
    const request = this.parseFetch(body);
    const link = this.network.link(request.from);
    if (!link || !(await link.admit()))
      throw new RpcException({
        code: 'LINK_DOWN',
        message: `link ${request.from}->${this.config.nodeId} lost the request`,
      });
    return this.repair.serveFetch(request);
  }

  @EventPattern(ReplicaEvents.message)
  onMessage(@Payload() body: unknown, @Ctx() context: ZmqContext): void {
    const origin = this.originPeer(context);
    if (origin) this.acceptFrom(origin, body);
  }

  /** A group commit of the peer's originations: each one is checked and accepted on its own. */
  @EventPattern(ReplicaEvents.messages)
  onMessages(@Payload() body: unknown, @Ctx() context: ZmqContext): void {
    const origin = this.originPeer(context);
    if (!origin) return;
    const messages = (body as { messages?: unknown } | null)?.messages;
    if (
      !Array.isArray(messages) ||
      messages.length === 0 ||
      messages.length > Limits.replicaBatchMax
    ) {
      this.reject(
        origin,
        new InvalidReplicaMessageError('messages', `must be 1..${Limits.replicaBatchMax} messages`),
      );
      return;
    }
    for (const message of messages) this.acceptFrom(origin, message);
  }

  private acceptFrom(origin: string, body: unknown): void {
    let message;
    try {
      message = parseReplicaMessage(body, this.memberSet);
    } catch (error) {
      this.reject(origin, error);
      return;
    }
    // Only a message's own sender broadcasts it live; anything else is a peer lying about ids.
    if (message.sender !== origin) {
      this.reject(
        origin,
        new InvalidReplicaMessageError(
          'sender',
          `${message.sender} arrived on ${origin}'s publisher`,
        ),
      );
      return;
    }
    // The note's text is made only when the link loses or copies: not per message.
    const path = () => `${message.id} ${origin}->${this.config.nodeId}`;
    this.network.link(origin)!.pass(
      (copy) => {
        if (copy === 1) this.replica.note('copied', path());
        this.inbox.receive(origin, message, copy === 0 ? 'message' : 'duplicate');
      },
      () => this.replica.note('lost', path()),
    );
  }

  @EventPattern(ReplicaEvents.heartbeat)
  onHeartbeat(@Payload() body: unknown, @Ctx() context: ZmqContext): void {
    const origin = this.originPeer(context);
    if (!origin) return;
    const { from, clock } = (body ?? {}) as { from?: unknown; clock?: unknown };
    if (from !== origin) {
      this.reject(
        origin,
        new InvalidReplicaMessageError('from', `heartbeat claims ${String(from)}`),
      );
      return;
    }
    this.network.link(origin)!.pass(() => this.repair.onHeartbeat(origin, clock));
  }

  /** The peer whose publisher an event came from; replica events over the ROUTER are refused. */
  private originPeer(context: ZmqContext): string | undefined {
    const origin = context.getOrigin();
    const peer = origin.kind === 'subscription' ? this.publishers.get(origin.endpoint) : undefined;
    if (!peer || peer === this.config.nodeId) {
      this.replica.counters.rejected++;
      this.replica.logOnce(
        'bad-origin',
        `replica event ${context.getPattern()} not from a peer's publisher refused`,
      );
      return undefined;
    }
    return peer;
  }

  private reject(origin: string, error: unknown): void {
    if (!(error instanceof InvalidReplicaMessageError)) throw error;
    this.replica.counters.rejected++;
    this.replica.logOnce(
      `bad-message-${origin}`,
      `message from ${origin} rejected: ${error.message}`,
    );
  }

  private parseFetch(body: unknown): FetchRequest {
    const { from, ranges } = (body ?? {}) as { from?: unknown; ranges?: unknown };
    if (typeof from !== 'string' || !this.memberSet.has(from) || from === this.config.nodeId) {
      throw new InvalidReplicaMessageError('from', 'must be a peer id');
    }
    if (!Array.isArray(ranges) || ranges.length === 0 || ranges.length > 64) {
      throw new InvalidReplicaMessageError('ranges', 'must be 1..64 ranges');
    }
    const parsed: FetchRange[] = ranges.map((range: unknown, i) => {
      const { node, fromSeq, toSeq } = (range ?? {}) as Record<string, unknown>;
      if (typeof node !== 'string' || !this.memberSet.has(node)) {
        throw new InvalidReplicaMessageError(`ranges[${i}].node`, 'must be a member id');
      }
      if (
        !Number.isSafeInteger(fromSeq) ||
        !Number.isSafeInteger(toSeq) ||
        (fromSeq as number) < 1 ||
        (toSeq as number) < (fromSeq as number)
      ) {
        throw new InvalidReplicaMessageError(
          `ranges[${i}]`,
          'needs integers 1 <= fromSeq <= toSeq',
        );
      }
      return { node, fromSeq: fromSeq as number, toSeq: toSeq as number };
    });
    return { from, ranges: parsed };
  }
}
