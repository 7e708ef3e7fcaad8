import type { MessageLike } from 'zeromq';

/** The part of a zeromq.js socket the writer needs. */
export interface Sendable {
  send(message: MessageLike | MessageLike[]): Promise<void>;
}

export interface SocketWriterOptions {
  /** The most messages queued; past it `write` refuses. Default 100,000. */
  readonly limit?: number;
  /** Routing frames before the packet (ROUTER 1, DEALER 0): turns coalescing on. */
  readonly envelope?: number;
  /**
   * With coalescing on, also gather what is written during one turn of the event loop: the
   * first write of a turn starts the send from `setImmediate` (after this poll phase's other
   * callbacks, before the loop waits again) instead of at once. For a client whose requests
   * come from many independent callbacks, like an HTTP edge's, this turns one send per
   * request into one per turn. Default false.
   */
  readonly gather?: boolean;
}

/** The most packets one coalesced ZeroMQ message carries. */
export const COALESCE_MAX_PACKETS = 256;
/** The most bytes one coalesced ZeroMQ message carries (a single packet may be larger). */
export const COALESCE_MAX_BYTES = 1 << 20;

/**
 * The single writer of one socket. zeromq.js allows one `send` in flight per socket (a
 * second throws EBUSY), so every send of a socket goes through this queue. The queue is
 * bounded: past `limit` frames are refused and counted, never buffered without end.
 *
 * With `envelope` set (the number of routing frames before the packet: 1 on a ROUTER, 0 on
 * a DEALER), messages that queue up while a send is in flight and share the same envelope
 * leave as one multipart message `[...envelope, packet, packet, ...]` — a group commit's
 * thirty replies to one client cost one send instead of thirty, and the receiver one
 * receive. Nothing waits for company: a lone message is sent at once, as before.
 */
export class SocketWriter {
  private queue: MessageLike[][] = [];
  private head = 0;
  private draining = false;
  private idle: (() => void)[] = [];
  dropped = 0;
  private readonly limit: number;
  private readonly envelope?: number;
  private readonly gather: boolean;

  constructor(
    private readonly socket: Sendable,
    private readonly onError: (error: unknown, frames: MessageLike[]) => void,
    options: SocketWriterOptions = {},
  ) {
    this.limit = options.limit ?? 100_000;
    this.envelope = options.envelope;
    this.gather = options.gather === true && options.envelope !== undefined;
  }

  get length(): number {
    return this.queue.length - this.head;
  }

  /** Queues frames; false when the queue is full and they were dropped. */
  write(frames: MessageLike[]): boolean {
    if (this.length >= this.limit) {
      this.dropped++;
      return false;
    }
    this.queue.push(frames);
    if (!this.draining) {
      if (this.gather) {
        this.draining = true;
        setImmediate(() => void this.drain());
      } else void this.drain();
    }
    return true;
  }

  /** Resolves once everything queued so far was handed to the socket (or failed). */
  flushed(): Promise<void> {
    if (!this.draining) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private async drain(): Promise<void> {
    this.draining = true;
    while (this.head < this.queue.length) {
      const frames = this.next();
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      try {
        await this.socket.send(frames);
      } catch (error) {
        this.onError(error, frames);
      }
    }
    this.queue = [];
    this.head = 0;
    this.draining = false;
    for (const resolve of this.idle.splice(0)) resolve();
  }

  /** Takes the next message off the queue, with the ones behind it that can share its send. */
  private next(): MessageLike[] {
    const first = this.queue[this.head];
    this.queue[this.head++] = undefined as never;
    const envelope = this.envelope;
    if (envelope === undefined || this.head >= this.queue.length) return first;
    let merged: MessageLike[] | undefined;
    let bytes = frameBytes(first, envelope);
    while (this.head < this.queue.length) {
      const candidate = this.queue[this.head];
      if (!sameEnvelope(first, candidate, envelope)) break;
      const size = frameBytes(candidate, envelope);
      const count = (merged ?? first).length - envelope + candidate.length - envelope;
      if (count > COALESCE_MAX_PACKETS || bytes + size > COALESCE_MAX_BYTES) break;
      merged ??= [...first];
      for (let i = envelope; i < candidate.length; i++) merged.push(candidate[i]);
      bytes += size;
      this.queue[this.head++] = undefined as never;
    }
    return merged ?? first;
  }
}

function frameBytes(frames: MessageLike[], from: number): number {
  let bytes = 0;
  for (let i = from; i < frames.length; i++) {
    const frame = frames[i];
    // a string's UTF-8 size is at most three bytes per UTF-16 unit: a bound without a scan
    bytes +=
      typeof frame === 'string' ? frame.length * 3 : ((frame as ArrayBufferView).byteLength ?? 0);
  }
  return bytes;
}

function sameEnvelope(a: MessageLike[], b: MessageLike[], envelope: number): boolean {
  for (let i = 0; i < envelope; i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (!Buffer.isBuffer(x) || !Buffer.isBuffer(y) || !x.equals(y)) return false;
  }
  return true;
}
