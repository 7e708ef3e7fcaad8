import { Inject, Injectable, Logger } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import {
  BreakOn,
  FetchRange,
  Flight,
  FlightKind,
  InboxAction,
  InboxActionResult,
  InboxView,
  NodeEvents,
} from '@app/contracts';
import type { NodeConfig } from '../config/node.config';
import { NODE_CONFIG } from '../config/node.tokens';
import { Replica } from '../replication/replica';
import type { StoredMessage } from '../storage/message-log';

interface Parked {
  readonly flightId: string;
  readonly from: string;
  readonly kind: FlightKind;
  readonly message: StoredMessage;
  readonly arrivedAt: string;
}

/** Flights remembered after they were handled, so a second action gets a 409, not a 404. */
const HANDLED_KEPT = 1_000;

/**
 * The last stage before the causal buffer, after the link simulator: every copy of a peer's
 * message — published, fetched by repair, duplicated by the link — passes through it. It
 * passes straight through unless the inbox is paused; then it is parked in arrival order
 * until a person delivers, drops or duplicates it, or resumes. Repair goes through it too,
 * so a paused node never repairs behind the person's back, and repair does not fetch what is
 * already parked.
 *
 * The tray is memory, not log: a crash loses only copies in flight, which the senders still
 * hold and repair fetches again. It is bounded: past `CHAT_INBOX_CAPACITY` a copy is
 * refused and counted, and repair fetches it again once the tray has room.
 */
@Injectable()
export class Inbox {
  private readonly logger = new Logger(Inbox.name);
  private paused = false;
  private pausedBy: 'operator' | 'hold-back' | null = null;
  private breakOn: BreakOn = 'none';
  /** flightId -> copy, in arrival order. */
  private readonly tray = new Map<string, Parked>();
  /** Parked copies per message id: what repair must not fetch again. */
  private readonly parkedIds = new Map<string, number>();
  private readonly handled = new Map<string, string>();
  private next = 0;
  private announceScheduled = false;

  constructor(
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
    private readonly replica: Replica,
  ) {}

  /** A copy that came through the inbound link from `from`. */
  receive(from: string, message: StoredMessage, kind: FlightKind): void {
    if (this.paused) {
      this.park(from, message, kind);
      return;
    }
    const result = this.replica.accept(message, kind === 'repair');
    if (result === 'held-back' && this.breakOn === 'hold-back') {
      this.paused = true;
      this.pausedBy = 'hold-back';
      this.replica.note('inbox', `paused by its breakpoint: ${message.id} held back`);
      this.logger.log(
        `node ${this.config.nodeId}: inbox paused by its breakpoint: ${message.id} is held back`,
      );
      this.changed();
    }
  }

  /** Whether a copy of `sender:seq` is parked (repair leaves it be). */
  holds(sender: string, seq: number): boolean {
    return this.parkedIds.has(`${sender}:${seq}`);
  }

  /** The ranges without the seqs that are parked here: what repair should still fetch. */
  unparked(ranges: readonly FetchRange[]): FetchRange[] {
    if (this.parkedIds.size === 0) return [...ranges];
    const out: FetchRange[] = [];
    for (const range of ranges) {
      let start = range.fromSeq;
      for (let seq = range.fromSeq; seq <= range.toSeq; seq++) {
        if (!this.holds(range.node, seq)) continue;
        if (seq > start) out.push({ node: range.node, fromSeq: start, toSeq: seq - 1 });
        start = seq + 1;
      }
      if (start <= range.toSeq) out.push({ node: range.node, fromSeq: start, toSeq: range.toSeq });
    }
    return out;
  }

  view(): InboxView {
    const inFlight: Flight[] = [];
    for (const p of this.tray.values())
      inFlight.push({
        flightId: p.flightId,
        from: p.from,
        kind: p.kind,
        message: this.replica.view(p.message),
        arrivedAt: p.arrivedAt,
      });
    return {
      nodeId: this.config.nodeId,
      paused: this.paused,
      pausedBy: this.pausedBy,
      breakOn: this.breakOn,
      inFlight,
      capacity: this.config.inboxCapacity,
      overflow: this.replica.counters.inboxOverflow,
    };
  }

  /** Pauses or resumes (resuming releases the tray in arrival order), sets the breakpoint. */
  set(settings: { paused?: boolean; breakOn?: BreakOn }): InboxView {
    if (settings.breakOn !== undefined && settings.breakOn !== this.breakOn) {
      this.breakOn = settings.breakOn;
      this.replica.note('inbox', `break on ${settings.breakOn}`);
    }
    if (settings.paused === true && !this.paused) {
      this.paused = true;
      this.pausedBy = 'operator';
      this.replica.note('inbox', 'paused');
    } else if (settings.paused === false && this.paused) {
      this.paused = false;
      this.pausedBy = null;
      this.replica.note('inbox', `resumed: ${this.tray.size} released`);
      const parked = [...this.tray.values()];
      this.tray.clear();
      this.parkedIds.clear();
      // Through the normal path, in arrival order; a breakpoint does not stop a release.
      for (const p of parked) {
        this.remember(p.flightId, 'released');
        this.replica.accept(p.message, p.kind === 'repair');
      }
    }
    this.changed();
    return this.view();
  }

  act(flightId: string, action: InboxAction): InboxActionResult {
    const parked = this.tray.get(flightId);
    if (!parked) {
      const done = this.handled.get(flightId);
      if (done)
        throw new RpcException({
          code: 'CONFLICT',
          message: `flight ${flightId} at ${this.config.nodeId} was already ${done}`,
        });
      throw new RpcException({
        code: 'UNKNOWN',
        message: `no flight ${flightId} in ${this.config.nodeId}'s inbox (it holds ${this.tray.size})`,
      });
    }
    const base = { nodeId: this.config.nodeId, flightId, action };
    this.replica.note('inbox', `${action} ${parked.message.id} (${flightId}, ${parked.kind})`);
    if (action === 'duplicate') {
      const copy = this.park(parked.from, parked.message, 'duplicate', true);
      return { ...base, copy };
    }
    this.unpark(parked);
    if (action === 'drop') {
      this.remember(flightId, 'dropped');
      this.changed();
      return base;
    }
    this.remember(flightId, 'delivered');
    const outcome = this.replica.accept(parked.message, parked.kind === 'repair');
    this.changed();
    if (outcome === 'held-back')
      return {
        ...base,
        outcome,
        delivered: [],
        waitingFor: this.replica.heldView(parked.message).waitingFor,
      };
    return { ...base, outcome, delivered: this.replica.lastDelivered.map((m) => m.id) };
  }

  /** Parks a copy; a full tray refuses it (counted). Returns its flight id, if parked. */
  private park(
    from: string,
    message: StoredMessage,
    kind: FlightKind,
    force = false,
  ): string | undefined {
    if (!force && this.tray.size >= this.config.inboxCapacity) {
      this.replica.counters.inboxOverflow++;
      this.replica.logOnce(
        'inbox-overflow',
        `paused inbox full (${this.config.inboxCapacity} copies): ${message.id} refused, repair fetches it again once there is room`,
      );
      return undefined;
    }
    const flightId = `f${++this.next}`;
    this.tray.set(flightId, {
      flightId,
      from,
      kind,
      message,
      arrivedAt: this.replica.physical.iso(),
    });
    this.parkedIds.set(message.id, (this.parkedIds.get(message.id) ?? 0) + 1);
    this.changed();
    return flightId;
  }

  private unpark(parked: Parked): void {
    this.tray.delete(parked.flightId);
    const copies = (this.parkedIds.get(parked.message.id) ?? 1) - 1;
    if (copies > 0) this.parkedIds.set(parked.message.id, copies);
    else this.parkedIds.delete(parked.message.id);
  }

  private remember(flightId: string, what: string): void {
    this.handled.set(flightId, what);
    if (this.handled.size > HANDLED_KEPT) this.handled.delete(this.handled.keys().next().value!);
  }

  /** Every change is announced once per turn of the event loop (a burst parks many). */
  private changed(): void {
    if (this.announceScheduled) return;
    this.announceScheduled = true;
    setImmediate(() => {
      this.announceScheduled = false;
      this.replica.emit(NodeEvents.inbox, this.view());
    });
  }
}
