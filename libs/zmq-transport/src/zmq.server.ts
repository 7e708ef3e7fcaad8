import { EventEmitter } from 'node:events';
import {
  CustomTransportStrategy,
  IncomingRequest,
  ReadPacket,
  Server,
  WritePacket,
} from '@nestjs/microservices';
import { isObservable } from 'rxjs';
import { Router, Subscriber } from 'zeromq';
import { ConnectionAudit } from './connection-audit';
import { CurveIdentity } from './curve-sockets';
import { isRecord, JsonDeserializer, JsonSerializer, toFrame } from './zmq.codec';
import { ZmqContext, ZmqOrigin } from './zmq.context';
import { ZMQ_DEFAULTS, ZmqServerOptions, ZmqSubscription } from './zmq.options';
import { SocketWriter } from './socket-writer';
import { ZMQ_TRANSPORT } from './zmq.tokens';

/** One subscription: its socket, its topics, who waits for its next frame. */
interface Feed {
  readonly subscriber: Subscriber;
  readonly endpoint: string;
  topics: Set<string>;
  waiters: (() => void)[];
  /** Set when the subscription was dropped (its publisher left). */
  dropped?: boolean;
}

/** Why an inbound frame was dropped. */
export type DropKind = 'oversize' | 'malformed' | 'unknown-shape' | 'no-handler' | 'overloaded';

export type ZmqServerStatus = 'listening' | 'closing' | 'closed';

type ZmqServerEvents = {
  dropped: (kind: DropKind, detail: string) => void;
  error: (error: unknown) => void;
};

/**
 * A Nest microservice transport on ZeroMQ. Requests and point-to-point events arrive on a
 * ROUTER; events from publishers arrive on one SUB socket per publisher endpoint (so a
 * handler can tell which peer sent an event). Replies go back through the ROUTER's single
 * writer loop. Hostile input is dropped and counted, never thrown.
 *
 * With `curve`, the ROUTER admits only the allow-listed keys and each SUB only accepts the
 * publisher holding its subscription's `serverKey`: an event's origin is then the key that
 * signed the connection, not whoever holds the port.
 */
export class ZmqServer
  extends Server<ZmqServerEvents, ZmqServerStatus>
  implements CustomTransportStrategy
{
  override readonly transportId = ZMQ_TRANSPORT;
  readonly dropped: Record<DropKind, number> = {
    oversize: 0,
    malformed: 0,
    'unknown-shape': 0,
    'no-handler': 0,
    overloaded: 0,
  };
  private router?: Router;
  private subscribers: Subscriber[] = [];
  /** Each subscription by its endpoint: its socket, its topics, who waits for its next frame. */
  private readonly feeds = new Map<string, Feed>();
  private writer?: SocketWriter;
  private readonly emitter = new EventEmitter();
  private readonly maxFrameBytes: number;
  private inFlight = 0;
  private drained?: () => void;
  private closing = false;
  private loops: Promise<void>[] = [];
  /** Who connected and who was refused. */
  readonly audit: ConnectionAudit;
  private readonly curve?: CurveIdentity;

  /** Throws a {@link CurveKeyError} for bad key material, before any socket exists. */
  constructor(private readonly options: ZmqServerOptions) {
    super();
    this.audit = options.audit ?? new ConnectionAudit();
    this.curve = options.curve ? new CurveIdentity(options.curve, this.audit) : undefined;
    if (options.bind) this.curve?.assertCanServe();
    for (const [i, subscription] of (options.subscribe ?? []).entries())
      this.subscriptionOptions(subscription, `subscribe[${i}].serverKey`);
    this.maxFrameBytes = options.maxFrameBytes ?? ZMQ_DEFAULTS.maxFrameBytes;
    this.serializer = options.serializer ?? new JsonSerializer();
    this.deserializer = options.deserializer ?? new JsonDeserializer();
  }

  /** The endpoint actually bound (useful with port `*`). */
  get endpoint(): string | undefined {
    return this.router?.lastEndpoint ?? undefined;
  }

  async listen(callback: (error?: unknown) => void): Promise<void> {
    try {
      if (this.options.bind) {
        this.router = new Router({
          ...this.socketOptions(),
          ...(await this.curve?.server()),
          maxMessageSize: this.maxFrameBytes * 4,
        });
        this.audit.watch(this.router, 'server');
        await this.router.bind(this.options.bind);
        // Replies to one client that queue up behind a send leave as one message.
        this.writer = new SocketWriter(this.router, (error) => this.fail(error), {
          envelope: 1,
        });
        this.loops.push(this.readRouter(this.router));
      }
      for (const endpoint of this.options.subscribe ?? []) this.subscribeTo(endpoint);
      this._status$.next('listening');
      callback();
    } catch (error) {
      this.closeSockets();
      callback(error);
    }
  }

  /** Connects one more publisher (a peer that joined after start). */
  subscribeTo(subscription: string | ZmqSubscription): void {
    const { linger, receiveHighWaterMark } = this.socketOptions();
    const { endpoint, curve } = this.subscriptionOptions(subscription, 'serverKey');
    const subscriber = new Subscriber({
      linger,
      receiveHighWaterMark,
      maxMessageSize: this.maxFrameBytes * 4,
      ...curve,
    });
    this.audit.watch(subscriber, 'client');
    const topics = this.options.topics ?? [''];
    for (const topic of topics) subscriber.subscribe(topic);
    subscriber.connect(endpoint);
    this.subscribers.push(subscriber);
    const feed: Feed = { subscriber, endpoint, topics: new Set(topics), waiters: [] };
    this.feeds.set(endpoint, feed);
    this.loops.push(this.readSubscription(feed));
  }

  /** Drops the subscription to `endpoint` (a publisher that left for good); false if none. */
  unsubscribeFrom(endpoint: string): boolean {
    const feed = this.feeds.get(endpoint);
    if (!feed) return false;
    feed.dropped = true;
    this.feeds.delete(endpoint);
    this.subscribers = this.subscribers.filter((s) => s !== feed.subscriber);
    for (const arrived of feed.waiters.splice(0)) arrived();
    if (!feed.subscriber.closed) feed.subscriber.close();
    return true;
  }

  /** True while there is a subscription to `endpoint`. */
  isSubscribedTo(endpoint: string): boolean {
    return this.feeds.has(endpoint);
  }

  /**
   * Admits `name`'s CURVE key on the ROUTER from now on, or stops admitting `name` when `key`
   * is undefined. New handshakes only: a connection already admitted is not cut.
   */
  setAllowed(name: string, key: string | undefined): void {
    if (!this.curve) throw new Error('ZmqServer runs without CURVE: there is no allow-list');
    this.curve.setAllowed(name, key);
  }

  /**
   * Changes which topics the subscription to `endpoint` receives, from now on. ZeroMQ filters
   * at the publisher, so a topic nobody here wants costs the publisher's host nothing on the
   * wire and this process no receive. (The change reaches the publisher asynchronously: see
   * {@link nextFrame}.)
   */
  setTopics(endpoint: string, topics: readonly string[]): void {
    const feed = this.feeds.get(endpoint);
    if (!feed) throw new Error(`no subscription to ${endpoint}`);
    for (const topic of feed.topics)
      if (!topics.includes(topic)) feed.subscriber.unsubscribe(topic);
    for (const topic of topics) if (!feed.topics.has(topic)) feed.subscriber.subscribe(topic);
    feed.topics = new Set(topics);
  }

  /**
   * Resolves true when the next frame arrives on the subscription to `endpoint`, false after
   * `timeoutMs`. A frame of a topic just subscribed proves the publisher has applied the
   * subscription: everything it publishes from then on arrives.
   */
  nextFrame(endpoint: string, timeoutMs: number): Promise<boolean> {
    const feed = this.feeds.get(endpoint);
    if (!feed) return Promise.reject(new Error(`no subscription to ${endpoint}`));
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        feed.waiters = feed.waiters.filter((w) => w !== arrived);
        resolve(false);
      }, timeoutMs);
      const arrived = () => {
        clearTimeout(timer);
        resolve(true);
      };
      feed.waiters.push(arrived);
    });
  }

  /**
   * Stops taking new packets, lets in-flight handlers finish for up to the grace period,
   * then closes every socket with a bounded linger so the process can always exit.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this._status$.next('closing');
    for (const subscriber of this.subscribers) subscriber.close();
    if (this.inFlight > 0) {
      const grace = this.options.gracePeriodMs ?? ZMQ_DEFAULTS.gracePeriodMs;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, grace);
        this.drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    await this.writer?.flushed();
    this.closeSockets();
    this.curve?.release();
    await Promise.allSettled(this.loops);
    this._status$.next('closed');
  }

  /** Plain string patterns are looked up directly; the base class would first try JSON.parse on them (and throw). */
  override getHandlerByPattern(pattern: string) {
    return this.messageHandlers.get(pattern) ?? super.getHandlerByPattern(pattern);
  }

  on<K extends keyof ZmqServerEvents>(event: K, callback: ZmqServerEvents[K]): void {
    this.emitter.on(event, callback);
  }

  unwrap<T>(): T {
    if (!this.router) throw new Error('ZmqServer is not listening; call listen() first');
    return { router: this.router, subscribers: this.subscribers } as T;
  }

  private socketOptions() {
    const hwm = this.options.highWaterMark ?? ZMQ_DEFAULTS.highWaterMark;
    return {
      linger: this.options.lingerMs ?? ZMQ_DEFAULTS.lingerMs,
      sendHighWaterMark: hwm,
      receiveHighWaterMark: hwm,
    };
  }

  private subscriptionOptions(subscription: string | ZmqSubscription, field: string) {
    const { endpoint, serverKey } =
      typeof subscription === 'string'
        ? { endpoint: subscription, serverKey: undefined }
        : subscription;
    return { endpoint, curve: this.curve?.client(serverKey, `${field} (${endpoint})`) };
  }

  private closeSockets(): void {
    for (const subscriber of this.subscribers) if (!subscriber.closed) subscriber.close();
    if (this.router && !this.router.closed) this.router.close();
  }

  private async readRouter(router: Router): Promise<void> {
    const origin: ZmqOrigin = { kind: 'router' };
    try {
      for await (const frames of router) {
        if (this.closing) continue;
        if (frames.length < 2) {
          this.drop('malformed', `expected [identity, packet, ...], got ${frames.length} frames`);
          continue;
        }
        // A client may send several packets in one message (see SocketWriter): each is a
        // request or event of its own, checked and answered on its own.
        const identity = frames[0];
        for (let i = 1; i < frames.length; i++) this.handleFrame(frames[i], origin, identity);
      }
    } catch (error) {
      if (!this.closing) this.fail(error);
    }
  }

  private async readSubscription(feed: Feed): Promise<void> {
    const { subscriber, endpoint } = feed;
    const origin: ZmqOrigin = { kind: 'subscription', endpoint };
    try {
      for await (const frames of subscriber) {
        if (this.closing || feed.dropped) continue;
        if (feed.waiters.length > 0) for (const arrived of feed.waiters.splice(0)) arrived();
        if (frames.length !== 2) {
          this.drop(
            'malformed',
            `expected [topic, payload] from ${endpoint}, got ${frames.length} frames`,
          );
          continue;
        }
        this.handleFrame(frames[1], origin);
      }
    } catch (error) {
      if (!this.closing && !feed.dropped) this.fail(error);
    }
  }

  private handleFrame(payload: Buffer, origin: ZmqOrigin, identity?: Buffer): void {
    if (payload.length > this.maxFrameBytes) {
      this.drop('oversize', `${payload.length} bytes > limit ${this.maxFrameBytes}`);
      return;
    }
    let packet: unknown;
    try {
      packet = this.deserializer.deserialize(payload);
    } catch (error) {
      this.drop('malformed', (error as Error).message);
      return;
    }
    if (
      !isRecord(packet) ||
      (typeof packet.pattern !== 'string' && !isRecord(packet.pattern)) ||
      (packet.id !== undefined && typeof packet.id !== 'string')
    ) {
      this.drop(
        'unknown-shape',
        'a packet needs a string or object pattern and an optional string id',
      );
      return;
    }
    const pattern = this.getPatternAsString(packet.pattern);
    const context = new ZmqContext([pattern, origin]);
    const track = this.track(
      packet.id !== undefined && identity
        ? this.handleRequest(pattern, packet as unknown as IncomingRequest, context, identity)
        : this.handleIncomingEvent(pattern, packet as unknown as ReadPacket, context),
    );
    void track;
  }

  private handleIncomingEvent(
    pattern: string,
    packet: ReadPacket,
    context: ZmqContext,
  ): Promise<unknown> {
    if (!this.getHandlerByPattern(pattern)) {
      this.drop('no-handler', `no event handler for ${pattern}`);
      return Promise.resolve();
    }
    return this.handleEvent(pattern, packet, context);
  }

  private async handleRequest(
    pattern: string,
    packet: IncomingRequest,
    context: ZmqContext,
    identity: Buffer,
  ): Promise<void> {
    const reply = (data: WritePacket) => {
      if (this.router?.closed) return; // answered after the grace period: the caller has been told
      const frame = toFrame(this.serializer.serialize({ ...data, id: packet.id }));
      if (!this.writer?.write([identity, frame])) this.drop('overloaded', 'reply queue is full');
    };
    const handler = this.getHandlerByPattern(pattern);
    if (!handler) {
      reply({
        err: `There is no matching message handler defined in the remote service for pattern "${pattern}"`,
        isDisposed: true,
      });
      return;
    }
    await new Promise<void>((resolve) => {
      const finished = () => {
        this.onProcessingEndHook?.(this.transportId, context);
        resolve();
      };
      this.onProcessingStartHook(this.transportId, context, async () => {
        try {
          const result: unknown = await handler(packet.data, context);
          if (!isObservable(result)) {
            // A plain (awaited) result is one reply, exactly what Nest's send() would make of
            // it, without building and subscribing an observable for each request.
            reply({ response: result, isDisposed: true });
            finished();
            return;
          }
          this.send(result, (data) => {
            reply(data);
            if (data.isDisposed || data.err !== undefined) finished();
          });
        } catch (error) {
          reply({ err: error instanceof Error ? error.message : error, isDisposed: true });
          resolve();
        }
      });
    });
  }

  /** Counts in-flight work so close() can wait for it. */
  private async track(work: Promise<unknown>): Promise<void> {
    this.inFlight++;
    try {
      await work;
    } catch (error) {
      this.fail(error);
    } finally {
      if (--this.inFlight === 0) this.drained?.();
    }
  }

  /** Reports an unexpected failure to `on('error')` listeners, or logs it when there are none. */
  private fail(error: unknown): void {
    if (this.emitter.listenerCount('error') > 0) this.emitter.emit('error', error);
    else
      this.logger.error(`ZeroMQ server: ${error instanceof Error ? error.message : String(error)}`);
  }

  private drop(kind: DropKind, detail: string): void {
    if (this.dropped[kind]++ === 0) {
      this.logger.warn(
        `dropped an inbound frame (${kind}): ${detail}; further ones are only counted`,
      );
    }
    this.emitter.emit('dropped', kind, detail);
  }
}
