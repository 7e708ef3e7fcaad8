import type { MessageLike } from 'zeromq';
import { COALESCE_MAX_PACKETS, Sendable, SocketWriter } from './socket-writer';

/** A socket whose sends complete when the test says so, recording what each one carried. */
class SlowSocket implements Sendable {
  readonly sent: MessageLike[][] = [];
  private release: (() => void)[] = [];
  inFlight = 0;

  send(message: MessageLike | MessageLike[]): Promise<void> {
    if (this.inFlight > 0) throw new Error('EBUSY: a second send while one is in flight');
    this.inFlight++;
    this.sent.push(message as MessageLike[]);
    return new Promise((resolve) =>
      this.release.push(() => {
        this.inFlight--;
        resolve();
      }),
    );
  }

  /** Completes sends until the writer stops sending. */
  async completeAll(): Promise<void> {
    while (this.release.length > 0) {
      this.release.shift()!();
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

const A = Buffer.from('client-a');
const B = Buffer.from('client-b');
const text = (frames: MessageLike[]) => frames.map((f) => (Buffer.isBuffer(f) ? `<${f}>` : f));

describe('SocketWriter', () => {
  it('sends one message at a time and, without an envelope, never merges', async () => {
    const socket = new SlowSocket();
    const writer = new SocketWriter(socket, () => undefined);
    for (const packet of ['p1', 'p2', 'p3']) writer.write([packet]);
    await socket.completeAll();
    expect(socket.sent.map(text)).toEqual([['p1'], ['p2'], ['p3']]);
  });

  it('with gather, sends what one turn of the event loop wrote as one message', async () => {
    const socket = new SlowSocket();
    const writer = new SocketWriter(socket, () => undefined, { envelope: 0, gather: true });
    for (const packet of ['t1', 't2', 't3']) writer.write([packet]);
    expect(socket.sent).toEqual([]); // nothing yet: the turn may write more
    await new Promise((resolve) => setImmediate(resolve));
    expect(socket.sent.map(text)).toEqual([['t1', 't2', 't3']]);
    await socket.completeAll();
    writer.write(['alone']); // a later turn's lone write still leaves, one turn later
    await new Promise((resolve) => setImmediate(resolve));
    expect(socket.sent.map(text)).toEqual([['t1', 't2', 't3'], ['alone']]);
    await socket.completeAll();
    await writer.flushed();
  });

  it('merges what queued behind a send, per routing identity and in order', async () => {
    const socket = new SlowSocket();
    const writer = new SocketWriter(socket, () => undefined, { envelope: 1 });
    writer.write([A, 'a1']); // sent at once, alone
    writer.write([A, 'a2']);
    writer.write([Buffer.from('client-a'), 'a3']); // an equal identity in another Buffer
    writer.write([B, 'b1']);
    writer.write([B, 'b2']);
    writer.write([A, 'a4']);
    await socket.completeAll();
    expect(socket.sent.map(text)).toEqual([
      ['<client-a>', 'a1'],
      ['<client-a>', 'a2', 'a3'],
      ['<client-b>', 'b1', 'b2'],
      ['<client-a>', 'a4'],
    ]);
    expect(writer.length).toBe(0);
  });

  it('bounds a merged message in packets and in bytes', async () => {
    const socket = new SlowSocket();
    const writer = new SocketWriter(socket, () => undefined, { envelope: 0 });
    writer.write(['first']);
    for (let i = 0; i < COALESCE_MAX_PACKETS + 10; i++) writer.write([`p${i}`]);
    const big = 'x'.repeat(200_000); // counted as up to 600,000 bytes of UTF-8
    writer.write([big]);
    writer.write([big]);
    await socket.completeAll();
    expect(socket.sent.map((m) => m.length)).toEqual([1, COALESCE_MAX_PACKETS, 11, 1]);
    expect(socket.sent.flat()).toHaveLength(COALESCE_MAX_PACKETS + 13);
  });

  it('reports a failed merged send with every frame it carried', async () => {
    const failed: MessageLike[][] = [];
    let calls = 0;
    const socket: Sendable = {
      send: () => (++calls === 2 ? Promise.reject(new Error('gone')) : Promise.resolve()),
    };
    const writer = new SocketWriter(socket, (_, frames) => failed.push(frames), { envelope: 1 });
    writer.write([A, 'a1']);
    writer.write([A, 'a2']);
    writer.write([A, 'a3']);
    await writer.flushed();
    expect(failed.map(text)).toEqual([['<client-a>', 'a2', 'a3']]);
  });

  it('refuses past its limit instead of growing', () => {
    const socket = new SlowSocket();
    const writer = new SocketWriter(socket, () => undefined, { limit: 2, envelope: 0 });
    expect(writer.write(['1'])).toBe(true); // in flight at once: not queued
    expect(writer.write(['2'])).toBe(true);
    expect(writer.write(['3'])).toBe(true);
    expect(writer.write(['4'])).toBe(false);
    expect(writer.dropped).toBe(1);
    expect(writer.length).toBe(2);
  });
});
