import type { MessageLike } from 'zeromq';

/** The part of a zeromq.js socket the writer needs. */
export interface Sendable {
  send(message: MessageLike | MessageLike[]): Promise<void>;
}

/**
 * The single writer of one socket. zeromq.js allows one `send` in flight per socket (a
 * second throws EBUSY), so every send of a socket goes through this queue. The queue is
 * bounded: past `limit` frames are refused and counted, never buffered without end.
 */
export class SocketWriter {
  private queue: MessageLike[][] = [];
  private head = 0;
  private draining = false;
  private idle: (() => void)[] = [];
  dropped = 0;

  constructor(
    private readonly socket: Sendable,
    private readonly onError: (error: unknown, frames: MessageLike[]) => void,
    private readonly limit = 100_000,
  ) {}

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
    if (!this.draining) void this.drain();
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
      const frames = this.queue[this.head];
      this.queue[this.head++] = undefined as never;
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
}
