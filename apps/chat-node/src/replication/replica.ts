import { Inject, Injectable, Logger, OnModuleDestroy, Optional } from '@nestjs/common';
import {
  CAUSAL_BUFFER,
  CausalBuffer,
  Hlc,
  HoldBackOverflowError,
  HybridClock,
  TooFarAheadError,
  VectorClock,
} from '@app/causal';
import {
  BufferedEvent,
  ChatMessage,
  ClockEvent,
  ClockJson,
  DeliveredEvent,
  HeldBackView,
  describeChange,
  Limits,
  MemberChange,
  NodeCounters,
  NodeEvents,
  ReplicaEvents,
  ReplicaMessage,
} from '@app/contracts';
import { ZmqClient } from '@app/zmq-transport';
import type { NodeConfig } from '../config/node.config';
import {
  NODE_CONFIG,
  PHYSICAL_CLOCK,
  PUBLISHER,
  RETIRED,
  STORAGE_FAILED,
} from '../config/node.tokens';
import { JOIN_GRANT_KEY, MEMBERSHIP_KEY, Membership, StoredGrant } from '../membership/membership';
import {
  Delivery,
  LogWrite,
  MessageLog,
  StoredMessage,
  toChatMessage,
  TraceEvent,
  TraceKind,
  TracePage,
} from '../storage/message-log';
import { PhysicalClock } from '../time/physical-clock';
import { EventTrace } from '../trace/event-trace';
import { replicaBatches } from './replica-batches';

/**
 * How far ahead of this node's clock a message's HLC may be: two clocks each up to 7 days
 * off (the most `PUT /clocks/:id` accepts) plus a day of drift.
 */
export const HLC_MAX_AHEAD_MS = 15 * 24 * 3600 * 1000;

/** What became of a peer's message handed to `accept`. */
export type AcceptResult = 'delivered' | 'held-back' | 'duplicate-dropped' | 'refused';

const NONE: readonly StoredMessage[] = [];

interface Origination {
  readonly resolve: (message: ChatMessage) => void;
  readonly reject: (error: Error) => void;
  readonly message: StoredMessage;
  /** The message as delivered here: the reply, and the same object the gateway is told. */
  readonly delivered: ChatMessage;
}

/** A committed batch, published once it is durable. */
interface Committed {
  readonly originations: Origination[];
  readonly announced: ChatMessage[];
  /** This node's clock right after the commit, announced with the batch. */
  readonly clock: ClockJson;
  failure?: Error;
}

/** This node does not take messages now (joining, leaving, retired); `code` says which. */
export class NotAcceptingError extends Error {
  constructor(
    readonly code: 'JOINING' | 'LEAVING',
    message: string,
  ) {
    super(message);
    this.name = 'NotAcceptingError';
  }
}

/** A reply's cause has not reached this node in time. */
export class NotYetDeliveredError extends Error {
  constructor(
    readonly nodeId: string,
    readonly missing: string,
    readonly waitedMs: number,
  ) {
    super(
      `node ${nodeId} has not delivered ${missing} yet (waited ${waitedMs} ms); retry, or send the reply where ${missing} is delivered`,
    );
    this.name = 'NotYetDeliveredError';
  }
}

/**
 * One replica's causal broadcast: originate, accept what peers send, deliver in causal
 * order, and make it durable. Writes are grouped: everything that happens in one turn of the
 * event loop is committed in one transaction, and only after the commit are replies sent,
 * own messages published to peers and deliveries announced. So an acknowledged message is
 * on disk, and no peer ever sees a seq that a crash could make this node reuse.
 */
@Injectable()
export class Replica implements OnModuleDestroy {
  readonly counters: NodeCounters = {
    sent: 0,
    received: 0,
    delivered: 0,
    duplicatesDropped: 0,
    retransmissions: 0,
    repairRequests: 0,
    overflows: 0,
    rejected: 0,
    inboxOverflow: 0,
    linkDropped: 0,
    linkDuplicated: 0,
  };
  /** Every id this node has known, in order (Membership's live list): clocks list them. */
  readonly members: string[];
  readonly startedAt: string;
  /** The node's hybrid logical clock: ticks on every origination, merges on every delivery. */
  private readonly hlc: HybridClock;
  private readonly logger = new Logger(Replica.name);
  private readonly trace: EventTrace;
  private lastIndex: number;
  private writes: LogWrite[] = [];
  private originations: Origination[] = [];
  private announced: ChatMessage[] = [];
  private flushScheduled = false;
  private closed = false;
  /** Settles once every batch committed so far has been published, in commit order. */
  private published: Promise<void> = Promise.resolve();
  /** Committed batches not yet published (waiting for the disk, or behind one that is). */
  private waitingForDisk = 0;
  /** Own messages up to this seq are on disk: the most that a peer's fetch is served. */
  private durableSeq: number;
  /** The last delivery index announced (see `announcedIndex`). */
  private lastAnnounced: number;
  /**
   * Set when a write or an fsync failed: memory and disk may then disagree, so from here
   * on nothing leaves this node — no reply, no message, no announcement, no fetch. A
   * restart reads back what the file really holds (see `storageFailed`).
   */
  private storageFailure?: Error;
  /** Set while this node is being retired: it originates nothing more. */
  private draining = false;
  /** The clock a joiner catches up to before its "joined" entry (from its grant). */
  private readonly joinClock?: VectorClock;
  private joinSent = false;
  /** What the last `accept` delivered, in order (empty unless it returned 'delivered'). */
  lastDelivered: readonly StoredMessage[] = NONE;
  /** The index of this node's own retirement, once delivered; told when it is announced. */
  private retiredIndex = 0;
  private retiredTold = false;

  constructor(
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
    @Inject(CAUSAL_BUFFER) private readonly buffer: CausalBuffer<StoredMessage>,
    private readonly log: MessageLog,
    @Inject(PUBLISHER) private readonly publisher: ZmqClient,
    readonly membership: Membership,
    /** Told once when storage fails; the node's process exits on it (see main.ts). */
    @Optional() @Inject(STORAGE_FAILED) private readonly storageFailed?: (error: Error) => void,
    /** Told once when this node delivered its own retirement (see main.ts). */
    @Optional() @Inject(RETIRED) private readonly retired?: () => void,
    /** The node's only source of wall time (operating-system time when none is given). */
    @Optional() @Inject(PHYSICAL_CLOCK) readonly physical: PhysicalClock = new PhysicalClock(),
  ) {
    this.members = membership.ids;
    this.startedAt = physical.iso();
    this.hlc = new HybridClock(() => physical.now(), log.restored.hlc);
    const grant = log.restored.meta[JOIN_GRANT_KEY];
    if (grant) this.joinClock = VectorClock.of((JSON.parse(grant) as StoredGrant).clock);
    const restored = log.restored;
    this.lastIndex = restored.lastIndex;
    this.lastAnnounced = restored.lastIndex;
    this.durableSeq = restored.clock.get(config.nodeId); // the log was synced when opened
    this.trace = new EventTrace(config.nodeId, restored.trace);
  }

  get nodeId(): string {
    return this.config.nodeId;
  }

  /**
   * The last delivery index a client may be shown: the last one announced. Announcements go
   * out in commit order and wait for the fsync of any own message before them, so every
   * delivery up to it is stored and as durable as the node promises, and every later one is
   * still to be announced: history up to it, then live events, misses nothing.
   */
  get announcedIndex(): number {
    return this.lastAnnounced;
  }

  clock(): VectorClock {
    return this.buffer.clock();
  }

  clockJson(): ClockJson {
    return this.buffer.clock().toRecord(this.members);
  }

  /** The node's HLC now. */
  hlcNow(): Hlc {
    return this.hlc.current;
  }

  private readonly deliveryWaiters = new Set<{
    sender: string;
    seq: number;
    resolve: () => void;
  }>();

  /**
   * Resolves once this node has delivered `sender:seq` (a reply's cause), so the reply's clock
   * includes it; rejects with a NotYetDeliveredError after `timeoutMs`.
   */
  async whenDelivered(sender: string, seq: number, timeoutMs: number): Promise<void> {
    if (this.buffer.delivered(sender) >= seq) return;
    let waiter: { sender: string; seq: number; resolve: () => void } | undefined;
    const delivered = new Promise<void>((resolve) => {
      waiter = { sender, seq, resolve };
      this.deliveryWaiters.add(waiter);
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new NotYetDeliveredError(this.nodeId, `${sender}:${seq}`, timeoutMs)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([delivered, timeout]);
    } finally {
      clearTimeout(timer);
      this.deliveryWaiters.delete(waiter!);
    }
  }

  /** Why this node takes no chat message now, or undefined when it does. */
  notAccepting(): NotAcceptingError | undefined {
    const state = this.membership.self.state;
    if (this.draining || state === 'retired')
      return new NotAcceptingError(
        'LEAVING',
        `node ${this.nodeId} is leaving the cluster: send to another node`,
      );
    if (state === 'admitted') {
      const target = this.joinClock;
      const have = this.buffer.clock();
      const behind = target
        ? this.members.reduce((sum, id) => sum + Math.max(0, target.get(id) - have.get(id)), 0)
        : 0;
      return new NotAcceptingError(
        'JOINING',
        `node ${this.nodeId} is joining the cluster: ${behind} message(s) still to catch up on; it takes messages once it has joined`,
      );
    }
    return undefined;
  }

  /** Creates a chat message at this node; resolves once it is durable. */
  originate(text: string, author?: string): Promise<ChatMessage> {
    const refusal = this.notAccepting();
    if (refusal) return Promise.reject(refusal);
    return this.originateEntry(text, author);
  }

  /** Logs a membership change as this node's next message; resolves once it is durable. */
  originateChange(change: MemberChange): Promise<ChatMessage> {
    return this.originateEntry(describeChange(change), undefined, change);
  }

  /**
   * A joiner says "joined" once it has delivered everything its grant's clock names: its
   * first message is then causally after the whole history it caught up on.
   */
  maybeJoin(): void {
    if (this.joinSent || this.membership.self.state !== 'admitted' || !this.joinClock) return;
    if (this.closed || this.storageFailure) return;
    const have = this.buffer.clock();
    if (this.members.some((id) => have.get(id) < this.joinClock!.get(id))) return;
    this.joinSent = true;
    this.originateChange({ op: 'join', id: this.nodeId }).then(
      () => this.logger.log(`node ${this.nodeId}: joined the cluster`),
      (error: Error) => {
        this.joinSent = false;
        this.logger.warn(`node ${this.nodeId}: could not log its join yet: ${error.message}`);
      },
    );
  }

  /**
   * Stops originating (a coordinator retires this node) and resolves with the last seq this
   * node gave out, once everything up to it is durable and published.
   */
  async drain(): Promise<number> {
    this.draining = true;
    this.flush();
    await this.published;
    if (this.storageFailure) throw this.notKept(this.storageFailure);
    return this.buffer.delivered(this.nodeId);
  }

  /** A retirement that could not go ahead: this node takes messages again. */
  resume(): void {
    if (this.membership.self.state !== 'retired') this.draining = false;
  }

  private originateEntry(
    text: string,
    author?: string,
    member?: MemberChange,
  ): Promise<ChatMessage> {
    if (this.closed) return Promise.reject(new Error(`node ${this.nodeId} is shutting down`));
    if (this.storageFailure) return Promise.reject(this.notKept(this.storageFailure));
    const seq = this.buffer.delivered(this.nodeId) + 1;
    const clock = this.buffer.clock().with(this.nodeId, seq);
    const hlc = this.hlc.tick();
    const sendEvent = this.trace.record(
      'send',
      `${this.nodeId}:${seq} hlc=${hlc.wallMs}.${hlc.logical} ${JSON.stringify(text)}`,
    );
    const message: StoredMessage = {
      id: `${this.nodeId}:${seq}`,
      sender: this.nodeId,
      seq,
      clock,
      text,
      ...(author !== undefined ? { author } : {}),
      sentAt: this.physical.iso(),
      hlc,
      trueSentAt: this.physical.trueIso(),
      trace: sendEvent.clock,
      ...(member ? { member } : {}),
    };
    const [delivered] = this.buffer.receive(message);
    if (delivered !== message)
      throw new Error(`node ${this.nodeId}: own message ${message.id} was not deliverable`);
    this.counters.sent++;
    return new Promise((resolve, reject) => {
      // delivered here the moment it is sent
      const delivered = this.recordDelivery(
        message,
        [sendEvent],
        message.sentAt,
        message.trueSentAt,
      );
      this.originations.push({ resolve, reject, message, delivered });
    });
  }

  /**
   * Accepts a validated message from a peer (live or repaired) and says what became of it;
   * `lastDelivered` then holds what it delivered, in order (the message itself, and the
   * held-back messages it released). Refusals (full buffer, absurd clock or timestamp) are
   * counted: the message will be fetched again.
   */
  accept(message: StoredMessage, repaired = false): AcceptResult {
    this.lastDelivered = NONE;
    if (this.closed || this.storageFailure) return 'refused';
    this.counters.received++;
    if (repaired) this.counters.retransmissions++;
    // A timestamp too far in the future would drag this node's HLC with it; refused before
    // the hold-back buffer, so it never blocks anything (a sane sender's copy comes by repair).
    if (message.hlc && message.hlc.wallMs - this.physical.now() > HLC_MAX_AHEAD_MS) {
      this.counters.rejected++;
      this.logOnce(
        'hlc-ahead',
        `message ${message.id} refused: hlc.wallMs is more than ${HLC_MAX_AHEAD_MS} ms ahead of this node's clock`,
      );
      return 'refused';
    }
    const duplicatesBefore = this.buffer.stats.duplicates;
    let delivered: readonly StoredMessage[];
    try {
      delivered = this.buffer.receive(message);
    } catch (error) {
      if (error instanceof HoldBackOverflowError) {
        this.counters.overflows++;
        this.logOnce('overflow', error.message);
        return 'refused';
      }
      if (error instanceof TooFarAheadError) {
        this.counters.rejected++;
        this.logOnce('too-far-ahead', error.message);
        return 'refused';
      }
      throw error;
    }
    if (this.buffer.stats.duplicates > duplicatesBefore) {
      this.counters.duplicatesDropped++;
      this.note('duplicate', message.id, message.trace);
      return 'duplicate-dropped';
    }
    const receiveEvent = this.trace.record('receive', message.id, message.trace);
    if (delivered.length === 0) {
      this.writes.push({ events: [receiveEvent] });
      this.scheduleFlush();
      const held: BufferedEvent = { nodeId: this.nodeId, held: this.heldView(message) };
      this.emit(NodeEvents.buffered, held);
      return 'held-back';
    }
    delivered.forEach((m, i) => this.recordDelivery(m, i === 0 ? [receiveEvent] : []));
    this.lastDelivered = delivered;
    return 'delivered';
  }

  /**
   * Records an event in the trace (in the next commit): a duplicate dropped, a copy the link
   * lost or copied, a change of settings. The run and the ShiViz log show it.
   */
  note(kind: TraceKind, detail: string, received?: ClockJson): void {
    if (this.closed || this.storageFailure) return;
    this.writes.push({ events: [this.trace.record(kind, detail, received)] });
    this.scheduleFlush();
  }

  /** Held-back messages with what they wait for. */
  held(): HeldBackView[] {
    return this.buffer
      .pending()
      .map(({ message, waitingFor }) => ({ message: this.view(message), waitingFor }));
  }

  heldView(message: StoredMessage): HeldBackView {
    return { message: this.view(message), waitingFor: this.buffer.waitingFor(message) };
  }

  view(message: StoredMessage, delivery?: Omit<Delivery, 'message'>): ChatMessage {
    return toChatMessage(message, this.members, delivery);
  }

  /**
   * A message as it travels to peers. Its clock names only non-zero entries: a peer that has
   * not yet delivered an admission does not know the new id, and a full record's "n3: 0"
   * would make it refuse the very messages that bring it the admission.
   */
  wire(message: StoredMessage, view: ChatMessage = this.view(message)): ReplicaMessage {
    return {
      id: view.id,
      sender: view.sender,
      seq: view.seq,
      clock: message.clock.toJSON() as ClockJson,
      text: view.text,
      ...(view.author !== undefined ? { author: view.author } : {}),
      sentAt: view.sentAt,
      ...(message.hlc ? { hlc: message.hlc } : {}),
      ...(view.trueSentAt ? { trueSentAt: view.trueSentAt } : {}),
      trace: message.trace,
      ...(message.member ? { member: message.member } : {}),
    };
  }

  /** Commits what is pending and waits until every committed batch has been answered. */
  async onModuleDestroy(): Promise<void> {
    this.flush();
    this.closed = true;
    await this.published;
  }

  /** Queues the delivery for the next commit; returns the message as delivered here. */
  private recordDelivery(
    message: StoredMessage,
    before: TraceEvent[],
    deliveredAt = this.physical.iso(),
    trueDeliveredAt = this.physical.trueIso(),
  ): ChatMessage {
    const index = ++this.lastIndex;
    // The HLC's receive rule, at delivery: a message delivered here is in the causal past of
    // everything this node originates next, so its timestamp must be below theirs.
    if (message.sender !== this.nodeId && message.hlc) this.hlc.receive(message.hlc);
    const deliverEvent = this.trace.record('deliver', message.id);
    // A membership entry changes the membership here, and the new membership is written in
    // the same transaction as the entry: a restart resumes with what the log implies.
    const changed = message.member !== undefined && this.membership.apply(message);
    this.writes.push({
      delivery: { index, message, deliveredAt, trueDeliveredAt },
      events: [...before, deliverEvent],
      ...(changed ? { meta: { [MEMBERSHIP_KEY]: this.membership.serialized() } } : {}),
    });
    if (changed && message.member!.op === 'retire' && message.member!.id === this.nodeId)
      this.retiredIndex = index;
    const view = this.view(message, { index, deliveredAt, trueDeliveredAt });
    this.announced.push(view);
    this.counters.delivered++;
    for (const waiter of this.deliveryWaiters) {
      if (waiter.sender === message.sender && waiter.seq <= message.seq) waiter.resolve();
    }
    this.scheduleFlush();
    return view;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.writes.length === 0) return;
    const writes = this.writes;
    const originations = this.originations;
    const announced = this.announced;
    this.writes = [];
    this.originations = [];
    this.announced = [];
    if (this.storageFailure) return this.refuse(originations, this.storageFailure);

    try {
      // The HLC after this commit goes with it (a restart resumes above every timestamp it
      // gave out or merged, whatever its physical clock says then), and the commit's time,
      // true and as this node's clock read it.
      this.log.write(writes, {
        hlc: this.hlc.current,
        at: this.physical.trueNow(),
        local: Math.round(this.physical.now()),
      });
    } catch (error) {
      // The transaction rolled back, but this node's memory already counts the batch as
      // delivered and its seqs as used: memory and disk disagree, which only a restart (from
      // the log) mends. Peers' messages in it will be fetched again then.
      const failure = new Error(`could not write to ${this.log.file}: ${(error as Error).message}`);
      this.failStorage(failure);
      return this.refuse(originations, failure);
    }
    const batch: Committed = { originations, announced, clock: this.clockJson() };
    // Peers' messages only: nothing to acknowledge, announce now — unless an earlier batch
    // still waits for the disk, because batches go out in commit order.
    if (originations.length === 0 && this.waitingForDisk === 0) return this.publish(batch);
    // The fsync starts now and runs on the thread pool; the node goes on working meanwhile.
    // Its outcome is taken at once (as a value), so a failure while an earlier batch is
    // still pending is never an unhandled rejection.
    const durable =
      originations.length > 0
        ? this.log.durable().then(
            () => undefined,
            (error: Error) => error,
          )
        : undefined;
    const previous = this.published;
    this.waitingForDisk++;
    this.published = (async () => {
      await previous;
      batch.failure = await durable;
      this.waitingForDisk--;
      this.publish(batch);
    })();
  }

  /**
   * Answers a committed batch's originations, sends them to peers and announces its
   * deliveries. Runs once the batch is on disk, in commit order.
   */
  private publish({ originations, announced, clock, failure }: Committed): void {
    // The commit went through but its fsync did not. After a failed fsync the kernel may
    // have dropped the pages it could not write, so this batch, and any commit before or
    // after it, may be gone from the disk. Publishing any of it could let a peer keep a seq
    // that this node, restarted from what the disk really holds, gives to another message.
    if (failure) this.failStorage(failure);
    if (this.storageFailure) return this.refuse(originations, this.storageFailure);
    for (const o of originations) {
      o.resolve(o.delivered);
      if (o.message.seq > this.durableSeq) this.durableSeq = o.message.seq;
    }
    // One event per group commit rather than per message: peers then decode, validate and
    // store a burst in one go. Batches stay under the frame limit.
    for (const wire of replicaBatches(originations.map((o) => this.wire(o.message, o.delivered)))) {
      if (wire.length === 1) this.emit(ReplicaEvents.message, wire[0]);
      else this.emit(ReplicaEvents.messages, { messages: wire });
    }
    if (announced.length > 0) {
      this.lastAnnounced = announced[announced.length - 1].index!;
      const delivered: DeliveredEvent = { nodeId: this.nodeId, messages: announced, clock };
      this.emit(NodeEvents.delivered, delivered);
      if (announced.some((m) => m.member)) this.emit(NodeEvents.membership, this.membership.view());
    }
    if (this.retiredIndex > 0 && !this.retiredTold && this.lastAnnounced >= this.retiredIndex) {
      this.retiredTold = true;
      this.logger.log(`node ${this.nodeId}: retired from the cluster; stopping`);
      this.retired?.();
    }
  }

  /**
   * A coordinator says this node is retired, with the entry. The node may not be able to
   * deliver the entry (its peers no longer serve it repairs, and it may lack a message the
   * entry's clock names), but it has stopped originating and all it gave out is at the
   * coordinator: it records itself retired, so it never starts as a member again, and stops.
   */
  async retireSelf(entry: StoredMessage): Promise<void> {
    if (entry.member?.op !== 'retire' || entry.member.id !== this.nodeId) return;
    this.accept(entry, true);
    if (this.membership.self.state !== 'retired' && this.membership.apply(entry))
      this.log.writeMeta({ [MEMBERSHIP_KEY]: this.membership.serialized() });
    this.flush();
    await this.published;
    if (this.retiredTold) return;
    this.retiredTold = true;
    this.logger.log(
      `node ${this.nodeId}: retired from the cluster (told by its coordinator); stopping`,
    );
    this.retired?.();
  }

  /** Publishes a heartbeat-sized clock event for the gateway. */
  announceClock(): void {
    const event: ClockEvent = {
      nodeId: this.nodeId,
      clock: this.clockJson(),
      buffered: this.buffer.size,
    };
    this.emit(NodeEvents.clock, event);
  }

  emit(pattern: string, data: unknown): void {
    this.publisher.emit(pattern, data).subscribe({
      error: (error: Error) =>
        this.logOnce(`publish-${pattern}`, `publish ${pattern} failed: ${error.message}`),
    });
  }

  private readonly logged = new Set<string>();

  logOnce(kind: string, text: string): void {
    if (this.logged.has(kind)) return;
    this.logged.add(kind);
    this.logger.warn(`node ${this.nodeId}: ${text} (further ones are only counted)`);
  }

  bufferStats() {
    return {
      size: this.buffer.size,
      capacity: this.config.bufferCapacity,
      maxHeld: this.buffer.stats.maxHeld,
    };
  }

  missing(horizon?: VectorClock) {
    return this.buffer.missing(horizon);
  }

  /**
   * Stored messages of `sender` in `fromSeq..toSeq`, for a peer's repair. Own messages only
   * once they are on disk: a peer may know of one from a heartbeat's clock while its fsync
   * is still running, and must not get a seq that a power loss could hand to another message.
   */
  stored(sender: string, fromSeq: number, toSeq: number, limit: number): StoredMessage[] {
    const last = sender === this.nodeId ? Math.min(toSeq, this.durableSeq) : toSeq;
    if (last < fromSeq || this.storageFailure) return [];
    return this.log.range(sender, fromSeq, last, limit);
  }

  /** From the first storage failure on, nothing leaves this node; it must be restarted. */
  private failStorage(failure: Error): void {
    if (this.storageFailure) return;
    this.storageFailure = failure;
    this.logger.error(
      `node ${this.nodeId}: ${failure.message}; nothing more leaves this node until it is restarted`,
    );
    this.storageFailed?.(failure);
  }

  private refuse(originations: Origination[], failure: Error): void {
    for (const o of originations) o.reject(this.notKept(failure));
  }

  /** The answer to an origination that storage could not keep. */
  private notKept(failure: Error): Error {
    return new Error(
      `node ${this.nodeId}: storage failed: ${failure.message}; the message was not acknowledged (restart the node: if the disk kept it, it will still be delivered)`,
    );
  }

  /**
   * Deliveries after index `after`, for clients, up to the last one announced: a page ends
   * before the first own message whose fsync is still running — a client must not see a
   * message that a power loss could replace by another under the same seq. Pages stay
   * gap-free prefixes, so a client that pages on from the last index it got misses nothing.
   */
  history(after: number, limit: number): ChatMessage[] {
    const visible = this.lastAnnounced;
    if (after >= visible) return [];
    return this.log
      .history(after, Math.min(limit, visible - after))
      .map((d) => this.view(d.message, d));
  }

  tracePage(after: number, maxEvents: number): TracePage {
    return this.log.tracePage(after, maxEvents, Limits.logPageMaxBytes);
  }
}
