import { spawnSync } from 'node:child_process';
import { AddressInfo, createServer, Socket } from 'node:net';
import { Inject, Injectable, Module } from '@nestjs/common';
import { ClientProxy, ClientsModule } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { lastValueFrom } from 'rxjs';
import { Dealer, Router } from 'zeromq';
import { ZmqClient, ZmqRequestError } from '@app/zmq-transport';
import { call, closeAfterEach, failure, startEchoServer, waitFor } from './support/zmq';

const startServer = startEchoServer;

describe('ZeroMQ transport (real sockets on loopback)', () => {
  const { cleanup, track } = closeAfterEach();

  it('answers requests, runs pipes and interceptors, and reports errors as errors', async () => {
    const { app, endpoint } = await startServer();
    track(app);
    const client = track(new ZmqClient({ connect: endpoint }));
    expect(await call(client, 'sum', [1, 2, 3])).toBe(6);
    expect(await call(client, 'tagged', {})).toEqual({ tagged: 'value' });
    expect(await call(client, 'square', { n: 7 })).toBe(49);
    expect(await failure(call(client, 'square', { n: -1 }))).toEqual(['n']);
    expect(await failure(call(client, 'refuse', {}))).toEqual({
      code: 'REFUSED',
      message: 'refused on purpose',
    });
    expect(await failure(call(client, 'crash', {}))).toEqual({
      status: 'error',
      message: 'Internal server error',
    });
    expect(await failure(call(client, 'nope', {}))).toMatch(
      /no matching message handler .* "nope"/,
    );
  });

  it('fans events out over PUB to three subscribing servers, and tells each where it came from', async () => {
    const publisher = track(new ZmqClient({ publish: 'tcp://127.0.0.1:*' }));
    await publisher.connect();
    const servers: Awaited<ReturnType<typeof startServer>>[] = [];
    for (let i = 0; i < 3; i++) {
      const started = await startServer({ subscribe: [publisher.publishEndpoint!] });
      track(started.app);
      servers.push(started);
    }
    // PUB/SUB has no delivery guarantee while subscriptions propagate: keep emitting until all hear one.
    await waitFor(() => {
      lastValueFrom(publisher.emit('note', { warmup: true })).catch(() => undefined);
      return servers.every((s) => s.seen.events.length > 0);
    });
    const numbered = (s: (typeof servers)[number]) =>
      s.seen.events.map((e) => (e.data as { i?: number }).i).filter((i) => i !== undefined);
    for (let i = 0; i < 10; i++) await lastValueFrom(publisher.emit('note', { i }));
    await waitFor(() => servers.every((s) => numbered(s).length === 10));
    for (const s of servers) {
      expect(numbered(s)).toEqual([...Array(10).keys()]);
      expect(s.seen.events[0].origin).toBe(publisher.publishEndpoint);
    }
  });

  it('changes what a subscription receives while it runs, and says when a new topic flows', async () => {
    const publisher = track(new ZmqClient({ publish: 'tcp://127.0.0.1:*' }));
    await publisher.connect();
    const endpoint = publisher.publishEndpoint!;
    const { app, server, seen } = await startServer({ subscribe: [endpoint], topics: [] });
    track(app);
    const emit = (i: number) => lastValueFrom(publisher.emit('note', { i })).catch(() => undefined);
    const numbered = () => seen.events.map((e) => (e.data as { i: number }).i);
    for (let i = 0; i < 20; i++) {
      await emit(-1);
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(seen.events).toEqual([]); // no topics: nothing arrives
    expect(await server.nextFrame(endpoint, 100)).toBe(false);

    server.setTopics(endpoint, ['note']);
    const flowing = server.nextFrame(endpoint, 3000);
    const pump = setInterval(() => void emit(-1), 10);
    expect(await flowing).toBe(true);
    clearInterval(pump);
    // Once a frame has arrived, everything published after it does.
    for (let i = 0; i < 10; i++) await emit(i);
    await waitFor(() => numbered().filter((i) => i >= 0).length === 10);
    expect(numbered().filter((i) => i >= 0)).toEqual([...Array(10).keys()]);

    server.setTopics(endpoint, []);
    await new Promise((r) => setTimeout(r, 200));
    const before = seen.events.length;
    for (let i = 0; i < 10; i++) await emit(100 + i);
    await new Promise((r) => setTimeout(r, 200));
    expect(seen.events.length).toBe(before);
    expect(() => server.setTopics('tcp://127.0.0.1:1', [])).toThrow(/no subscription/);
  });

  it('subscribes to a publisher that appears later and drops one that left', async () => {
    const first = track(new ZmqClient({ publish: 'tcp://127.0.0.1:*' }));
    const later = track(new ZmqClient({ publish: 'tcp://127.0.0.1:*' }));
    await Promise.all([first.connect(), later.connect()]);
    const { app, server, seen } = await startServer({ subscribe: [first.publishEndpoint!] });
    track(app);
    server.subscribeTo(later.publishEndpoint!);
    expect(server.isSubscribedTo(later.publishEndpoint!)).toBe(true);
    const from = (endpoint: string) => seen.events.filter((e) => e.origin === endpoint).length;
    const pump = setInterval(() => {
      void lastValueFrom(later.emit('note', 'later')).catch(() => undefined);
      void lastValueFrom(first.emit('note', 'first')).catch(() => undefined);
    }, 10);
    try {
      await waitFor(() => from(later.publishEndpoint!) > 0 && from(first.publishEndpoint!) > 0);
      expect(server.unsubscribeFrom(later.publishEndpoint!)).toBe(true);
      expect(server.isSubscribedTo(later.publishEndpoint!)).toBe(false);
      const heard = from(later.publishEndpoint!);
      const firstHeard = from(first.publishEndpoint!);
      await waitFor(() => from(first.publishEndpoint!) > firstHeard + 5);
      expect(from(later.publishEndpoint!)).toBe(heard); // nothing more from the dropped one
    } finally {
      clearInterval(pump);
    }
    expect(server.unsubscribeFrom(later.publishEndpoint!)).toBe(false);
  });

  it('takes point-to-point events over the DEALER', async () => {
    const { app, endpoint, seen } = await startServer();
    track(app);
    const client = track(new ZmqClient({ connect: endpoint }));
    await lastValueFrom(client.emit('note', 'direct'));
    await waitFor(() => seen.events.length === 1);
    expect(seen.events[0]).toEqual({ pattern: 'note', data: 'direct', origin: 'router' });
  });

  it('fails fast while the server is down, times out a slow reply, and recovers when the server returns', async () => {
    // "Down" is a port held by a listener that never speaks ZMTP: no handshake can complete
    // and no other process can take the port meanwhile, so only the connect timer can fire.
    const held = new Set<Socket>();
    const holder = createServer((socket) => held.add(socket));
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const endpoint = `tcp://127.0.0.1:${(holder.address() as AddressInfo).port}`;
    // The request timeout is far from the connect timeout, so a stalled machine cannot swap them.
    const client = track(
      new ZmqClient({ connect: endpoint, timeoutMs: 3000, connectTimeoutMs: 300 }),
    );
    const down = await failure(call(client, 'sum', [1]));
    expect(down).toBeInstanceOf(ZmqRequestError);
    expect((down as ZmqRequestError).code).toBe('unreachable');
    expect((down as Error).message).toContain(endpoint);
    expect((down as Error).message).toContain('no connection within 300 ms');

    for (const socket of held) socket.destroy();
    await new Promise((resolve) => holder.close(resolve));
    const again = await startServer({ bind: endpoint });
    track(again.app);
    await waitFor(() => client.isConnected, 5000);
    expect(await call(client, 'sum', [2, 3])).toBe(5);
    const slow = await failure(call(client, 'slow', 4000));
    expect((slow as ZmqRequestError).code).toBe('timeout');
    expect((slow as Error).message).toMatch(
      /slow to tcp:\/\/127\.0\.0\.1:\d+: no reply within 3000 ms/,
    );
  });

  it('serves 1,000 concurrent requests, each answered to its own caller', async () => {
    const { app, endpoint } = await startServer();
    track(app);
    const client = track(new ZmqClient({ connect: endpoint }));
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => call<number>(client, 'sum', [i, i])),
    );
    expect(results).toEqual(Array.from({ length: 1000 }, (_, i) => 2 * i));
    expect(client.pendingCount).toBe(0);
  });

  it('answers request() as send() does, and gathers one turn of requests into one message', async () => {
    const { app, endpoint } = await startServer();
    track(app);
    const client = track(new ZmqClient({ connect: endpoint, gatherRequests: true }));
    expect(await client.request('sum', [1, 2, 3])).toBe(6);
    expect(await failure(client.request('square', { n: -1 }))).toEqual(['n']);
    expect(await failure(client.request('nope', {}))).toMatch(/no matching message handler/);
    // A bare ROUTER as the server shows how the requests arrived: one message of 50 packets.
    const router = new Router({ linger: 0 });
    await router.bind('tcp://127.0.0.1:*');
    const gathered = track(new ZmqClient({ connect: router.lastEndpoint!, gatherRequests: true }));
    const arrivals: number[] = [];
    void (async () => {
      for await (const [identity, ...packets] of router) {
        arrivals.push(packets.length);
        const replies = packets.map((p) => {
          const { id, data } = JSON.parse(p.toString()) as { id: string; data: number[] };
          return JSON.stringify({ id, response: data[0] + data[1], isDisposed: true });
        });
        await router.send([identity, ...replies]);
      }
    })().catch(() => undefined);
    await gathered.request('sum', [0, 0]); // connected
    arrivals.length = 0;
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => gathered.request<number>('sum', [i, 1])),
    );
    expect(results).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(arrivals).toEqual([50]);
    await gathered.close();
    router.close();
  });

  it('times out each call at its own deadline, whatever order the calls came in', async () => {
    // A ROUTER that answers only "sum": the other calls can end only by their timeouts.
    const router = new Router({ linger: 0 });
    cleanup.push(async () => router.close());
    await router.bind('tcp://127.0.0.1:*');
    void (async () => {
      for await (const [identity, ...packets] of router) {
        for (const p of packets) {
          const { id, pattern, data } = JSON.parse(p.toString()) as {
            id: string;
            pattern: string;
            data: number[];
          };
          if (pattern !== 'sum') continue;
          await router.send([identity, JSON.stringify({ id, response: data[0] + data[1] })]);
          await router.send([identity, JSON.stringify({ id, isDisposed: true })]);
        }
      }
    })().catch(() => undefined);
    const client = track(new ZmqClient({ connect: router.lastEndpoint!, timeoutMs: 5000 }));
    expect(await client.request('sum', [1, 1])).toBe(2); // connected; a reply in two parts
    const started = performance.now();
    const ended = (promise: Promise<unknown>) =>
      failure(promise).then((error) => ({ error, after: performance.now() - started }));
    // The long deadline first, the short ones after it: the short ones must not wait for it.
    const long = ended(client.request('mute', {}, 2500));
    const short = ended(client.request('mute', {}, 300));
    const middle = ended(client.request('mute', {}, 900));
    expect(await client.request('sum', [2, 3])).toBe(5); // the others do not hold answers up
    const [s, m, l] = await Promise.all([short, middle, long]);
    for (const { error } of [s, m, l]) expect((error as ZmqRequestError).code).toBe('timeout');
    expect((s.error as Error).message).toContain('no reply within 300 ms');
    expect((l.error as Error).message).toContain('no reply within 2500 ms');
    expect(s.after).toBeGreaterThanOrEqual(290);
    expect(s.after).toBeLessThan(800);
    expect(m.after).toBeGreaterThanOrEqual(890);
    expect(m.after).toBeLessThan(2000);
    expect(l.after).toBeGreaterThanOrEqual(2490);
    expect(client.pendingCount).toBe(0);
  });

  it('answers packets that arrive together with replies that leave together', async () => {
    const { app, endpoint } = await startServer();
    track(app);
    const raw = new Dealer({ linger: 0 });
    cleanup.push(async () => raw.close());
    raw.connect(endpoint);
    const packets = Array.from({ length: 50 }, (_, i) =>
      JSON.stringify({ pattern: 'sum', data: [i, 1], id: `r${i}` }),
    );
    await raw.send(packets); // one ZeroMQ message, fifty requests
    const answers = new Map<string, unknown>();
    let messages = 0;
    while (answers.size < 50) {
      const frames = await raw.receive();
      messages++;
      for (const frame of frames) {
        const reply = JSON.parse(frame.toString()) as { id: string; response: unknown };
        answers.set(reply.id, reply.response);
      }
    }
    expect([...answers.keys()].sort()).toEqual(packets.map((_, i) => `r${i}`).sort());
    expect(answers.get('r7')).toBe(8);
    // The first reply leaves at once; the rest queued behind it and share a send.
    expect(messages).toBeLessThanOrEqual(3);
  });

  it('drops malformed, oversize and unknown-shape frames, counts them, and keeps serving', async () => {
    const { app, server, endpoint } = await startServer({ maxFrameBytes: 1024 });
    track(app);
    const raw = new Dealer({ linger: 0 });
    cleanup.push(async () => raw.close());
    raw.connect(endpoint);
    await raw.send('{not json');
    await raw.send(Buffer.alloc(2048, 'x'));
    await raw.send(JSON.stringify({ hello: 'world' }));
    await raw.send(JSON.stringify({ pattern: 'sum', id: 42 }));
    // Several packets in one message are handled one by one: the bad one is dropped alone.
    await raw.send([JSON.stringify({ pattern: 'sum', data: [1, 2], id: 'a' }), 'not json']);
    await raw.send(JSON.stringify({ pattern: 'unknown-event', data: 1 }));
    await waitFor(() => Object.values(server.dropped).reduce((a, b) => a + b, 0) === 6);
    const [answer] = await raw.receive();
    expect(JSON.parse(answer.toString())).toMatchObject({ id: 'a', response: 3 });
    expect(server.dropped).toMatchObject({
      malformed: 2,
      oversize: 1,
      'unknown-shape': 2,
      'no-handler': 1,
    });
    const client = track(new ZmqClient({ connect: endpoint }));
    expect(await call(client, 'sum', [40, 2])).toBe(42);
  });

  it('fails every in-flight call promptly on close()', async () => {
    const { app, endpoint } = await startServer({ gracePeriodMs: 100 });
    track(app);
    const client = new ZmqClient({ connect: endpoint, timeoutMs: 30_000 });
    const calls = Array.from({ length: 5 }, () => failure(call(client, 'slow', 10_000)));
    await waitFor(() => client.pendingCount === 5);
    const started = Date.now();
    await client.close();
    const errors = await Promise.all(calls);
    expect(Date.now() - started).toBeLessThan(1000);
    for (const error of errors) expect((error as ZmqRequestError).code).toBe('closed');
  });

  it('lets a process with calls in flight exit by itself after close()', () => {
    const child = spawnSync(
      process.execPath,
      [
        '-r',
        'ts-node/register/transpile-only',
        '-r',
        'tsconfig-paths/register',
        'test/fixtures/zmq-exit.ts',
      ],
      { cwd: `${__dirname}/..`, timeout: 30_000, encoding: 'utf8' },
    );
    expect(child.signal).toBeNull();
    expect(child.status).toBe(0);
    const report = JSON.parse(child.stdout.trim().split('\n').pop()!);
    expect(report.closeMs).toBeLessThan(2000);
    expect(report.outcomes).toHaveLength(1);
    expect(report.outcomes[0]).toMatch(/slow to tcp:\/\/127\.0\.0\.1:\d+: the client was closed/);
  });

  it('registers with ClientsModule and is injected by token', async () => {
    const { app, endpoint } = await startServer();
    track(app);
    @Injectable()
    class Caller {
      constructor(@Inject('ECHO') readonly client: ClientProxy) {}
    }
    @Module({
      imports: [
        ClientsModule.register([
          { name: 'ECHO', customClass: ZmqClient, options: { connect: endpoint } },
        ]),
      ],
      providers: [Caller],
    })
    class CallerModule {}
    const moduleRef = await Test.createTestingModule({ imports: [CallerModule] }).compile();
    const caller = moduleRef.get(Caller);
    cleanup.push(() => moduleRef.close());
    expect(caller.client).toBeInstanceOf(ZmqClient);
    expect(await call(caller.client, 'sum', [20, 22])).toBe(42);
  });
});
