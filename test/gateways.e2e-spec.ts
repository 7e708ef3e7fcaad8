import request from 'supertest';
import { io, Manager, Socket } from 'socket.io-client';
import { checkCausalDelivery } from '@app/causal';
import { ChatMessage } from '@app/contracts';
import { checked, TestCluster } from './support/cluster';

type Batch = { nodeId: string; messages: ChatMessage[]; clock: Record<string, number> };

/**
 * The edge scales out: the gateway holds no causal state, so two gateway processes on one
 * cluster serve the same conversation, each with its own health and metrics.
 */
describe('two gateways on one cluster (real processes, CURVE on)', () => {
  let cluster: TestCluster;
  let a: string;
  let b: string;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    cluster = await TestCluster.start();
    [a, b] = await Promise.all([
      cluster.startGateway({}, 'gateway'),
      cluster.startGateway({}, 'gateway2'),
    ]);
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await cluster.stop();
  });

  const subscribe = (url: string, id: string) =>
    new Promise<{ socket: Socket; lastIndex: number; received: ChatMessage[] }>(
      (resolve, reject) => {
        const socket = io(`${url}/nodes/${id}`, { transports: ['websocket'], forceNew: true });
        sockets.push(socket);
        const received: ChatMessage[] = [];
        socket.on('deliveries', (batch: Batch) => received.push(...batch.messages));
        socket.once('hello', (hello: { lastIndex: number }) =>
          resolve({ socket, lastIndex: hello.lastIndex, received }),
        );
        socket.once('connect_error', reject);
      },
    );
  const post = (url: string, id: string, text: string) =>
    request(url).post(`/nodes/${id}/messages`).send({ text }).expect(201);

  it('delivers a message posted through one gateway to Socket.IO subscribers of the other', async () => {
    const onB = await Promise.all(['n0', 'n1', 'n2'].map((id) => subscribe(b, id)));
    const sent: ChatMessage[] = [];
    for (let i = 0; i < 9; i++)
      sent.push((await post(a, `n${i % 3}`, `through a ${i}`)).body as ChatMessage);
    await cluster.waitUntil(
      () => onB.every((s) => s.received.length === 9),
      10_000,
      "gateway2's subscribers to get all 9",
    );
    for (const s of onB)
      expect(s.received.map((m) => m.id).sort()).toEqual(sent.map((m) => m.id).sort());
    const report = checkCausalDelivery({
      deliveries: Object.fromEntries(onB.map((s, i) => [`n${i}`, checked(s.received)])),
    });
    expect(report.violations).toEqual([]);
  });

  it('keeps health and metrics per gateway', async () => {
    const [healthA, healthB] = await Promise.all([
      request(a).get('/health').expect(200),
      request(b).get('/health').expect(200),
    ]);
    expect(healthA.body.status).toBe('ok');
    expect(healthB.body.status).toBe('ok');
    const posts = (text: string) =>
      Number(
        /gateway_http_requests_total\{method="POST",route="\/nodes\/:id\/messages",status="201"\} (\d+)/.exec(
          text,
        )?.[1] ?? 0,
      );
    const before = posts((await request(b).get('/metrics').expect(200)).text);
    await post(a, 'n0', 'counted at a only');
    expect(posts((await request(a).get('/metrics').expect(200)).text)).toBeGreaterThanOrEqual(10);
    expect(posts((await request(b).get('/metrics').expect(200)).text)).toBe(before);
    expect(before).toBe(0);
  });

  it('lets a client move to the other gateway mid-stream and miss nothing', async () => {
    // A browser on gateway a (one connection, one namespace per node, as the page does).
    const browser = new Manager(a, { transports: ['websocket'], reconnection: false });
    const first = browser.socket('/nodes/n1');
    const seen: ChatMessage[] = [];
    first.on('deliveries', (batch: Batch) => seen.push(...batch.messages));
    const helloA = await new Promise<{ lastIndex: number }>((resolve) => {
      first.once('hello', resolve);
      first.connect();
    });
    let posting = true;
    let count = 0;
    const stream = (async () => {
      while (posting) {
        await post(a, `n${count % 3}`, `stream ${count}`);
        count++;
      }
    })();
    await cluster.waitUntil(() => seen.length >= 10, 10_000, 'the stream to flow on a');
    first.close(); // gateway a's connection drops mid-stream
    const onB = await subscribe(b, 'n1');
    await cluster.waitUntil(() => onB.received.length >= 10, 10_000, 'the stream to flow on b');
    posting = false;
    await stream;
    const total = (await cluster.state('n1')).clock;
    const end = (await cluster.state('n1')).lastIndex;
    await cluster.waitUntil(
      () => onB.received.at(-1)?.index === end,
      10_000,
      'b to relay the last delivery',
    );
    // What the client holds: a's live events, then b's history up to its hello, then b's live ones.
    const gap = await request(b)
      .get(`/nodes/n1/messages?after=${seen.at(-1)!.index}&limit=1000`)
      .expect(200);
    const bridged = (gap.body.messages as ChatMessage[]).filter((m) => m.index! <= onB.lastIndex);
    const whole = [...seen, ...bridged, ...onB.received.filter((m) => m.index! > onB.lastIndex)];
    const indexes = whole.map((m) => m.index!);
    expect(indexes).toEqual(indexes.map((_, k) => helloA.lastIndex + 1 + k));
    expect(indexes.at(-1)).toBe(end);
    expect(Object.values(total).reduce((x, y) => x + y, 0)).toBe(end);
  });

  it("fans every message out to a room of clients, each in its node's causal order", async () => {
    // 20 browsers' worth: one connection each, all three namespaces, split over both gateways.
    const room: { node: string; received: ChatMessage[]; lastIndex: number }[] = [];
    const browsers = Array.from(
      { length: 20 },
      (_, i) => new Manager(i % 2 ? a : b, { transports: ['websocket'], reconnection: false }),
    );
    await Promise.all(
      browsers.flatMap((browser) =>
        ['n0', 'n1', 'n2'].map(
          (node) =>
            new Promise<void>((resolve) => {
              const socket = browser.socket(`/nodes/${node}`);
              sockets.push(socket);
              const client = { node, received: [] as ChatMessage[], lastIndex: 0 };
              room.push(client);
              socket.on('deliveries', (batch: Batch) => client.received.push(...batch.messages));
              socket.once('hello', (hello: { lastIndex: number }) => {
                client.lastIndex = hello.lastIndex;
                resolve();
              });
              socket.connect();
            }),
        ),
      ),
    );
    const sent = await Promise.all(
      Array.from({ length: 30 }, (_, i) => post(i % 2 ? a : b, `n${i % 3}`, `room ${i}`)),
    );
    const ids = sent.map((r) => (r.body as ChatMessage).id).sort();
    const live = (c: (typeof room)[number]) => c.received.filter((m) => m.index! > c.lastIndex);
    await cluster.waitUntil(
      () => room.every((c) => live(c).length === 30),
      15_000,
      'all 60 clients to get all 30 messages',
    );
    for (const client of room) {
      const got = live(client);
      expect(got.map((m) => m.id).sort()).toEqual(ids);
      const indexes = got.map((m) => m.index!);
      expect(indexes).toEqual(indexes.map((_, k) => client.lastIndex + 1 + k));
    }
    // Every client of a node saw exactly that node's delivery order, and that order is causal.
    const logs = new Map<string, ChatMessage[]>();
    for (const node of ['n0', 'n1', 'n2']) logs.set(node, await cluster.history(node));
    for (const client of room)
      expect(live(client).map((m) => m.id)).toEqual(
        logs
          .get(client.node)!
          .filter((m) => m.index! > client.lastIndex)
          .map((m) => m.id),
      );
    const report = checkCausalDelivery({
      deliveries: Object.fromEntries([...logs].map(([node, log]) => [node, checked(log)])),
    });
    expect(report.violations).toEqual([]);
  });
});
