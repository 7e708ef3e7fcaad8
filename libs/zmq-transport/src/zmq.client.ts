import { Logger } from '@nestjs/common';
import { ClientProxy, ReadPacket, WritePacket } from '@nestjs/microservices';
import { Dealer, Publisher } from 'zeromq';
import { ConnectionAudit } from './connection-audit';
import { CurveIdentity } from './curve-sockets';
import { isRecord, JsonDeserializer, JsonSerializer, toFrame } from './zmq.codec';
import { ZmqRequestError } from './zmq.errors';
import { ZMQ_DEFAULTS, ZmqClientOptions } from './zmq.options';
import { SocketWriter } from './socket-writer';

export type ZmqClientStatus = 'connected' | 'disconnected' | 'closed';

/**
 * One call waiting for its reply: either a `request()` (a promise: `resolve`/`reject`, and
 * the last response seen) or Nest's `send()` (an observer `callback`). No timer of its own:
 * the client keeps one, armed for the earliest deadline (see `arm`).
 */
class Pending {
  last: unknown;

  constructor(
    readonly pattern: string,
    readonly timeoutMs: number,
    readonly deadline: number,
    readonly callback?: (packet: WritePacket) => void,
    readonly resolve?: (value: unknown) => void,
    readonly reject?: (reason: unknown) => void,
  ) {}

  deliver(packet: WritePacket): void {
    if (this.callback) return this.callback(packet);
    if (packet.err)
      this.reject!(packet.err); // as Nest's ClientProxy judges it
    else {
      if (packet.response !== undefined) this.last = packet.response;
      if (packet.isDisposed) this.resolve!(this.last);
    }
  }
}

/**
 * A Nest ClientProxy on ZeroMQ. `send()` goes over a DEALER and is matched to its reply by
 * packet id; every pending call fails with a {@link ZmqRequestError} on timeout, when the
 * server cannot be reached, or on close(). `emit()` goes over a bound PUB (fan-out) when
 * `publish` is configured, otherwise over the DEALER (point-to-point).
 *
 * With `curve`, the DEALER only talks to the holder of `curve.serverKey` and the PUB admits
 * only `curve.allow`-listed subscribers.
 */
export class ZmqClient extends ClientProxy {
  private readonly logger = new Logger(ZmqClient.name);
  private dealer?: Dealer;
  private publisher?: Publisher;
  private dealerWriter?: SocketWriter;
  private publisherWriter?: SocketWriter;
  private readonly pending = new Map<string, Pending>();
  /** The one timeout timer, armed for `timerAt` (the earliest deadline it knows of). */
  private timer?: NodeJS.Timeout;
  private timerAt = Infinity;
  /** Packet ids: a counter is unique per client, which is all a DEALER's replies need. */
  private nextId = 0;
  /** `"pattern"` as JSON, by pattern: the few patterns a client uses, quoted once. */
  private readonly quoted = new Map<string, string>();
  private readonly defaultSerializer: boolean;
  private connecting?: Promise<void>;
  private connected = false;
  private connectWaiters: (() => void)[] = [];
  private closed = false;
  private readLoop?: Promise<void>;
  private readonly timeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly maxFrameBytes: number;
  /** Who connected and who was refused. */
  readonly audit: ConnectionAudit;
  private readonly curve?: CurveIdentity;

  /** Throws a {@link CurveKeyError} for bad key material, before any socket exists. */
  constructor(private readonly options: ZmqClientOptions) {
    super();
    this.audit = options.audit ?? new ConnectionAudit();
    this.curve = options.curve ? new CurveIdentity(options.curve, this.audit) : undefined;
    if (options.connect) this.curve?.client(options.curve?.serverKey, 'curve.serverKey');
    if (options.publish) this.curve?.assertCanServe();
    this.timeoutMs = options.timeoutMs ?? ZMQ_DEFAULTS.timeoutMs;
    this.connectTimeoutMs = options.connectTimeoutMs ?? ZMQ_DEFAULTS.connectTimeoutMs;
    this.maxFrameBytes = options.maxFrameBytes ?? ZMQ_DEFAULTS.maxFrameBytes;
    this.serializer = options.serializer ?? new JsonSerializer();
    this.defaultSerializer = options.serializer === undefined;
    this.deserializer = options.deserializer ?? new JsonDeserializer();
  }

  /** True while the DEALER has a live connection to the server. */
  get isConnected(): boolean {
    return this.connected;
  }

  /** The endpoint the PUB socket is bound to (useful with port `*`). */
  get publishEndpoint(): string | undefined {
    return this.publisher?.lastEndpoint ?? undefined;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Creates the sockets once; later calls return the same promise. */
  connect(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('ZmqClient is closed'));
    this.connecting ??= this.open().catch((error) => {
      this.connecting = undefined;
      this.closeSockets();
      throw error;
    });
    return this.connecting;
  }

  /** Fails every pending call, then closes the sockets with a bounded linger. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const [id, call] of this.pending) {
      this.settle(id, {
        err: new ZmqRequestError(
          'closed',
          this.options.connect ?? '-',
          call.pattern,
          'the client was closed',
        ),
      });
    }
    clearTimeout(this.timer);
    for (const resolve of this.connectWaiters.splice(0)) resolve();
    await Promise.all([this.dealerWriter?.flushed(), this.publisherWriter?.flushed()]);
    this.closeSockets();
    this.curve?.release();
    await this.readLoop;
    this._status$.next('closed');
  }

  /**
   * Admits `name`'s CURVE key on the PUB from now on, or stops admitting `name` when `key` is
   * undefined. New handshakes only: a subscriber already admitted is not cut.
   */
  setAllowed(name: string, key: string | undefined): void {
    if (!this.curve || !this.options.publish)
      throw new Error('ZmqClient has no CURVE publisher: there is no allow-list');
    this.curve.setAllowed(name, key);
  }

  unwrap<T>(): T {
    if (!this.connecting) throw new Error('ZmqClient is not connected; call connect() first');
    return { dealer: this.dealer, publisher: this.publisher } as T;
  }

  /**
   * `send(pattern, data)` as a promise of its last response, without the observable: what
   * `lastValueFrom(client.send(...))` gives, for callers on a hot path. Rejects with the
   * server's error or a {@link ZmqRequestError}.
   */
  request<T>(pattern: string, data: unknown, timeoutMs?: number): Promise<T> {
    if (!this.dealer) return this.connect().then(() => this.request<T>(pattern, data, timeoutMs));
    return new Promise<T>((resolve, reject) =>
      this.call(
        timeoutMs ?? this.timeoutMs,
        pattern,
        data,
        undefined,
        resolve as (value: unknown) => void,
        reject,
      ),
    );
  }

  protected publish(packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    const id = this.call(this.timeoutMs, packet.pattern, packet.data, callback);
    return () => {
      if (id !== undefined) this.forget(id);
    };
  }

  /**
   * Sends one request and registers its reply's handler: `callback` (Nest's observer) or
   * `resolve`/`reject` (a promise, without an observer's closures around it). Returns the
   * packet id, or undefined when there is no server to send to.
   */
  private call(
    timeoutMs: number,
    rawPattern: ReadPacket['pattern'],
    data: unknown,
    callback?: (packet: WritePacket) => void,
    resolve?: (value: unknown) => void,
    reject?: (reason: unknown) => void,
  ): string | undefined {
    const pattern = typeof rawPattern === 'string' ? rawPattern : this.normalizePattern(rawPattern);
    const endpoint = this.options.connect;
    if (!endpoint || !this.dealer) {
      const err = new Error(`ZmqClient has no server to send ${pattern} to: set "connect"`);
      if (callback) callback({ err });
      else reject!(err);
      return undefined;
    }
    const id = (++this.nextId).toString(36);
    // Serialized before the call is registered: a payload JSON cannot encode fails here.
    const frame = this.frame(id, pattern, data);
    const deadline = performance.now() + timeoutMs;
    this.pending.set(id, new Pending(pattern, timeoutMs, deadline, callback, resolve, reject));
    this.arm(deadline);
    // Connected (the usual case): write now, without a hop through the microtask queue.
    if (this.connected) this.write(id, pattern, endpoint, frame);
    else void this.sendWhenConnected(id, pattern, endpoint, frame);
    return id;
  }

  /** The request's frame: `{pattern, data, id}`, written directly with the default codec. */
  private frame(id: string, pattern: string, data: unknown): Buffer | string {
    if (!this.defaultSerializer) return toFrame(this.serializer.serialize({ pattern, data, id }));
    let quoted = this.quoted.get(pattern);
    if (quoted === undefined) {
      quoted = JSON.stringify(pattern);
      if (this.quoted.size < 1000) this.quoted.set(pattern, quoted);
    }
    const body = data === undefined ? undefined : JSON.stringify(data);
    return body === undefined
      ? `{"pattern":${quoted},"id":"${id}"}`
      : `{"pattern":${quoted},"data":${body},"id":"${id}"}`;
  }

  /**
   * Makes sure the timer fires by `deadline`. One timer for all pending calls instead of one
   * each: most calls are answered in milliseconds, long before any deadline.
   */
  private arm(deadline: number): void {
    if (deadline >= this.timerAt || this.closed) return;
    clearTimeout(this.timer);
    this.timerAt = deadline;
    this.timer = setTimeout(
      () => this.expire(),
      Math.max(1, Math.ceil(deadline - performance.now())),
    );
  }

  /** Fails the calls whose deadline passed and re-arms for the earliest of the rest. */
  private expire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (const [id, call] of this.pending) {
      if (call.deadline <= now) {
        this.settle(id, {
          err: new ZmqRequestError(
            'timeout',
            this.options.connect ?? '-',
            call.pattern,
            `no reply within ${call.timeoutMs} ms`,
          ),
        });
      } else if (call.deadline < next) next = call.deadline;
    }
    if (next < Infinity) this.arm(next);
  }

  protected async dispatchEvent<T = unknown>(packet: ReadPacket): Promise<T> {
    const pattern = this.normalizePattern(packet.pattern);
    const payload = toFrame(this.serializer.serialize({ ...packet, pattern }));
    if (this.publisherWriter) {
      if (!this.publisherWriter.write([pattern, payload]))
        throw this.overloaded(pattern, 'publish');
      return undefined as T;
    }
    if (!this.dealerWriter || !this.options.connect) {
      throw new Error(`ZmqClient cannot emit ${pattern}: set "connect" or "publish"`);
    }
    if (!(await this.whenConnected())) {
      throw new ZmqRequestError('unreachable', this.options.connect, pattern, 'not connected');
    }
    if (!this.dealerWriter.write([payload])) throw this.overloaded(pattern, this.options.connect);
    return undefined as T;
  }

  private async open(): Promise<void> {
    const hwm = this.options.highWaterMark ?? ZMQ_DEFAULTS.highWaterMark;
    const linger = this.options.lingerMs ?? ZMQ_DEFAULTS.lingerMs;
    if (this.options.publish) {
      this.publisher = new Publisher({
        linger,
        sendHighWaterMark: hwm,
        ...(await this.curve?.server()),
      });
      this.audit.watch(this.publisher, 'server');
      await this.publisher.bind(this.options.publish);
      this.publisherWriter = new SocketWriter(this.publisher, (error) =>
        this.logger.warn(`publish failed: ${String(error)}`),
      );
    }
    if (this.options.connect) {
      // `immediate`: never queue requests for a server that is not connected, so a request
      // to a dead node fails fast instead of running minutes later when it comes back.
      this.dealer = new Dealer({
        linger,
        sendHighWaterMark: hwm,
        receiveHighWaterMark: hwm,
        immediate: true,
        sendTimeout: this.connectTimeoutMs,
        maxMessageSize: this.maxFrameBytes * 4,
        ...this.curve?.client(this.options.curve?.serverKey, 'curve.serverKey'),
      });
      this.watchConnection(this.dealer);
      this.dealer.connect(this.options.connect);
      // Requests that queue up behind a send leave as one message of several packets.
      this.dealerWriter = new SocketWriter(
        this.dealer,
        (error, frames) => this.failSend(error, frames),
        { envelope: 0, gather: this.options.gatherRequests === true },
      );
      this.readLoop = this.readReplies(this.dealer);
    }
  }

  /**
   * Tracks the connection from the socket's event stream. (Reading the stream rather than
   * `events.on()`: zeromq.js installs the emitter on a native prototype once per process,
   * bound to the first module registry, which breaks under Jest's per-file registries.)
   */
  private watchConnection(dealer: Dealer): void {
    this.audit.watch(dealer, 'client', (event) => {
      if (event.type === 'handshake') this.setConnected(true);
      else if (event.type === 'disconnect') this.setConnected(false);
    });
  }

  private setConnected(connected: boolean): void {
    this.connected = connected;
    this._status$.next(connected ? 'connected' : 'disconnected');
    if (connected) for (const resolve of this.connectWaiters.splice(0)) resolve();
  }

  /** Waits up to the connect timeout for a live connection; false when there is none. */
  private async whenConnected(): Promise<boolean> {
    if (this.connected) return true;
    if (this.closed) return false;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.connectWaiters.push(resolve);
      timer = setTimeout(resolve, this.connectTimeoutMs);
    });
    clearTimeout(timer);
    return this.connected;
  }

  private async sendWhenConnected(
    id: string,
    pattern: string,
    endpoint: string,
    frame: Buffer | string,
  ): Promise<void> {
    if (!(await this.whenConnected())) {
      this.settle(id, {
        err: new ZmqRequestError(
          'unreachable',
          endpoint,
          pattern,
          `no connection within ${this.connectTimeoutMs} ms`,
        ),
      });
      return;
    }
    if (this.pending.has(id)) this.write(id, pattern, endpoint, frame);
  }

  private write(id: string, pattern: string, endpoint: string, frame: Buffer | string): void {
    if (!this.dealerWriter!.write([frame]))
      this.settle(id, { err: this.overloaded(pattern, endpoint) });
  }

  /** A send the socket refused (e.g. the connection dropped meanwhile): fail those calls now. */
  private failSend(error: unknown, frames: unknown[]): void {
    const endpoint = this.options.connect ?? '-';
    for (const frame of frames) {
      try {
        const packet = this.deserializer.deserialize(frame as Buffer | string) as {
          id?: string;
          pattern?: string;
        };
        if (packet.id) {
          this.settle(packet.id, {
            err: new ZmqRequestError(
              'unreachable',
              endpoint,
              String(packet.pattern),
              `send failed: ${String(error)}`,
            ),
          });
        }
      } catch {
        this.logger.warn(`send to ${endpoint} failed: ${String(error)}`);
      }
    }
  }

  private overloaded(pattern: string, endpoint: string): ZmqRequestError {
    return new ZmqRequestError('overloaded', endpoint, pattern, 'the send queue is full');
  }

  private async readReplies(dealer: Dealer): Promise<void> {
    try {
      for await (const frames of dealer) {
        // One message may carry several replies (the server coalesces them): one per frame.
        for (const payload of frames) {
          if (payload.length > this.maxFrameBytes) continue;
          let packet: unknown;
          try {
            packet = this.deserializer.deserialize(payload);
          } catch {
            continue;
          }
          if (!isRecord(packet) || typeof packet.id !== 'string') continue;
          this.deliverReply(packet.id, packet as WritePacket);
        }
      }
    } catch (error) {
      if (!this.closed) this.logger.warn(`reply loop ended: ${String(error)}`);
    }
  }

  private deliverReply(id: string, packet: WritePacket): void {
    const call = this.pending.get(id);
    if (!call) return;
    if (packet.isDisposed || packet.err !== undefined) this.forget(id);
    call.deliver(packet);
  }

  private settle(id: string, packet: WritePacket): void {
    const call = this.pending.get(id);
    if (!call) return;
    this.forget(id);
    call.deliver(packet);
  }

  /** Drops a call; the last one's going disarms the timer, which would hold the process. */
  private forget(id: string): void {
    this.pending.delete(id);
    if (this.pending.size > 0 || this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private closeSockets(): void {
    if (this.dealer && !this.dealer.closed) this.dealer.close();
    if (this.publisher && !this.publisher.closed) this.publisher.close();
  }
}
