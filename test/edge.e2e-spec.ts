import request from 'supertest';
import { io, Socket } from 'socket.io-client';
import { ChatMessage } from '@app/contracts';
import { TestCluster } from './support/cluster';

const TOKEN = 'edge-test-operator-token-0123456789';
const SEND_LIMIT = 100;
type Ack = ChatMessage | { error: { statusCode: number; message: string } };

describe('the guarded edge (gateway + three node processes, CURVE on)', () => {
  let cluster: TestCluster;
  let url: string;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    cluster = await TestCluster.start();
    url = await cluster.startGateway({
      GATEWAY_ADMIN_TOKEN: TOKEN,
      GATEWAY_RATE_LIMIT: String(SEND_LIMIT),
      GATEWAY_CORS_ORIGIN: 'http://teacher.example',
      GATEWAY_BODY_LIMIT_BYTES: '4096',
    });
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await cluster.stop();
  });

  const connect = (id: string, extraHeaders: Record<string, string> = {}) =>
    new Promise<Socket>((resolve, reject) => {
      const socket = io(`${url}/nodes/${id}`, {
        transports: ['websocket'],
        reconnection: false,
        extraHeaders,
      });
      sockets.push(socket);
      socket.once('hello', () => resolve(socket));
      socket.once('connect_error', reject);
    });
  const send = (socket: Socket, text: string) =>
    socket.timeout(10_000).emitWithAck('send', { text }) as Promise<Ack>;

  it('answers operator endpoints 401 without the token, 403 with a wrong one, and serves them with it', async () => {
    const operations = [
      () => request(url).put('/network/links/n0/n1').send({ delayMs: 7 }),
      () => request(url).delete('/network'),
      () => request(url).get('/cluster/consistency'),
    ];
    for (const operation of operations) {
      const missing = await operation().expect(401);
      expect(missing.body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
      expect(missing.body.message).toContain('Authorization: Bearer <GATEWAY_ADMIN_TOKEN>');
      expect(missing.headers['www-authenticate']).toBe('Bearer realm="operator"');
      const wrong = await operation().set('Authorization', 'Bearer not-the-token').expect(403);
      expect(wrong.body.message).toBe('the bearer token is not the operator token');
      await operation().set('Authorization', `Bearer ${TOKEN}`).expect(200);
    }
    // A 401 changed nothing: the link still has the delay set with the token, then reset.
    expect((await request(url).get('/network/links/n0/n1').expect(200)).body.delayMs).not.toBe(7);
    // Chatting needs no token, and neither does /metrics while the gateway is loopback-only.
    await request(url).post('/nodes/n0/messages').send({ text: 'no token needed' }).expect(201);
    await request(url).get('/nodes').expect(200);
    await request(url).get('/network').expect(200);
    await request(url).get('/metrics').expect(200);
  });

  it('marks the operator endpoints in OpenAPI with the bearer scheme and their 401/403', async () => {
    const spec = (await request(url).get('/docs-json').expect(200)).body;
    expect(spec.components.securitySchemes.operator).toMatchObject({
      type: 'http',
      scheme: 'bearer',
    });
    const secured = [
      spec.paths['/network/links/{from}/{to}'].put,
      spec.paths['/network'].delete,
      spec.paths['/cluster/consistency'].get,
      spec.paths['/metrics'].get,
    ];
    for (const operation of secured) {
      expect(operation.security).toEqual([{ operator: [] }]);
      expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['401', '403']));
    }
    expect(spec.paths['/nodes/{id}/messages'].post.security).toBeUndefined();
  });

  it('lets Socket.IO in from its own origin, a configured one and non-browsers, not from elsewhere', async () => {
    await connect('n0');
    await connect('n0', { origin: 'http://teacher.example' });
    await connect('n0', { origin: url });
    await expect(connect('n0', { origin: 'http://evil.example' })).rejects.toThrow();
  });

  it('closes a Socket.IO connection whose frame is over the body limit; the gateway keeps serving', async () => {
    const socket = await connect('n1');
    const closed = new Promise<string>((resolve) => socket.once('disconnect', resolve));
    socket.emit('send', { text: 'x'.repeat(6000) }, () => undefined);
    expect(await closed).toMatch(/transport close|transport error/);
    const other = await connect('n1');
    expect(await send(other, 'after the oversize frame')).toMatchObject({ sender: 'n1' });
  });

  it('answers a flood of sends on one connection with 429 acks, keeps other clients fast, and loses nothing it accepted', async () => {
    const flooder = await connect('n2');
    const bystander = await connect('n0');
    const timed = async (label: string) => {
      const started = performance.now();
      const ack = await send(bystander, label);
      expect(ack).toMatchObject({ sender: 'n0' });
      return performance.now() - started;
    };
    const before: number[] = [];
    for (let i = 0; i < 5; i++) before.push(await timed(`before ${i}`));

    const floodStarted = performance.now();
    const acks = Array.from({ length: 5000 }, (_, i) => send(flooder, `flood ${i}`));
    const during: number[] = [];
    const probing = (async () => {
      for (let i = 0; i < 10; i++) during.push(await timed(`during ${i}`));
    })();
    const results = await Promise.all(acks);
    const floodMs = performance.now() - floodStarted;
    await probing;

    const accepted = results.filter((ack): ack is ChatMessage => !('error' in ack));
    const limited = results.filter((ack) => 'error' in ack && ack.error.statusCode === 429);
    expect(floodMs).toBeLessThan(10_000); // inside one rate window
    expect(accepted).toHaveLength(SEND_LIMIT);
    expect(limited).toHaveLength(5000 - SEND_LIMIT);
    expect('error' in limited[0] && limited[0].error.message).toMatch(
      /at most 100 sends per 10 s on one connection; retry in \d+ s/,
    );
    const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
    process.stderr.write(
      `flood: ${Math.round(floodMs)} ms for 5000 sends; bystander ack median ${median(before).toFixed(1)} ms before, ${median(during).toFixed(1)} ms during\n`,
    );
    expect(median(during)).toBeLessThan(median(before) + 250);

    // Everything the flood got accepted is at every node, once.
    const logs = await cluster.converge(accepted.length);
    for (const log of logs.values()) {
      const ids = new Set(log.map((m) => m.id));
      for (const message of accepted) expect(ids.has(message.id)).toBe(true);
    }
    const metrics = await request(url).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/gateway_socketio_sends_rate_limited_total 4900/);
    expect(metrics.text).toMatch(
      /chat_node_counter\{node="n0",counter="connectionsRejected"\} \d+/,
    );
  });
});
