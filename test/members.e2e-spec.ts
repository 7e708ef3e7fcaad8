import request from 'supertest';
import { io, Socket } from 'socket.io-client';
import { ChatMessage, MembershipView } from '@app/contracts';
import { TestCluster } from './support/cluster';

const TOKEN = 'members-test-operator-token-0123';
const auth = { Authorization: `Bearer ${TOKEN}` };
type Batch = { nodeId: string; messages: ChatMessage[] };

/** The gateway follows the membership live: GET /nodes, namespaces, health, restarts. */
describe('membership through the gateway (real processes, CURVE on)', () => {
  let cluster: TestCluster | undefined;
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.close();
    await cluster?.stop();
    cluster = undefined;
  });

  const nodesOf = async (url: string) =>
    ((await request(url).get('/nodes').expect(200)).body as { id: string; member: string }[]).map(
      (n) => `${n.id}:${n.member}`,
    );

  it('admits, joins and retires a node: /nodes, Socket.IO namespaces and /health follow, a restarted gateway too', async () => {
    cluster = await TestCluster.start({ spare: 1 });
    const c = cluster;
    const url = await c.startGateway({ GATEWAY_ADMIN_TOKEN: TOKEN });
    for (let i = 0; i < 30; i++)
      await request(url)
        .post(`/nodes/n${i % 3}/messages`)
        .send({ text: `before ${i}` })
        .expect(201);

    // Operator endpoint, validated like every DTO.
    await request(url).post('/cluster/members').send({ id: 'n3' }).expect(401);
    const bad = await request(url)
      .post('/cluster/members')
      .set(auth)
      .send({ id: '3x', address: 'nowhere' })
      .expect(400);
    expect(JSON.stringify(bad.body.message)).toContain('id must be a letter');
    expect(JSON.stringify(bad.body.message)).toContain('address must be host:port');
    const taken = await request(url)
      .post('/cluster/members')
      .set(auth)
      .send({ id: 'n1', address: c.address('n3'), publicKey: c.publicKey('n3') })
      .expect(409);
    expect(taken.body.message).toContain('n1 is already a member');

    const admitted = await request(url)
      .post('/cluster/members')
      .set(auth)
      .send({ id: 'n3', address: c.address('n3'), publicKey: c.publicKey('n3') })
      .expect(201);
    expect((admitted.body as MembershipView).members.map((m) => `${m.id}:${m.state}`)).toEqual([
      'n0:active',
      'n1:active',
      'n2:active',
      'n3:admitted',
    ]);
    expect(await nodesOf(url)).toEqual(['n0:active', 'n1:active', 'n2:active', 'n3:admitted']);

    // A browser watching n3's namespace sees its panel fill with the whole history.
    await c.startJoiner('n3', 'n2');
    await c.waitUntil(
      async () => (await nodesOf(url)).includes('n3:active'),
      30_000,
      'the gateway to see n3 active',
    );
    const received: ChatMessage[] = [];
    const socket = io(`${url}/nodes/n3`, { transports: ['websocket'], forceNew: true });
    sockets.push(socket);
    socket.on('deliveries', (batch: Batch) => received.push(...batch.messages));
    const retired = new Promise<{ nodeId: string; message: string }>((resolve) =>
      socket.once('retired', resolve),
    );
    const disconnected = new Promise<string>((resolve) => socket.once('disconnect', resolve));
    const hello = await new Promise<{ up: boolean; lastIndex: number }>((resolve) =>
      socket.once('hello', resolve),
    );
    expect(hello.up).toBe(true);
    const history = await request(url).get('/nodes/n3/messages?limit=500').expect(200);
    expect(history.body.messages.length).toBeGreaterThanOrEqual(32); // 30 + admit + joined
    const sent = await request(url)
      .post('/nodes/n3/messages')
      .send({ text: 'from n3' })
      .expect(201);
    await c.waitUntil(() => received.some((m) => m.id === sent.body.id), 10_000, 'n3 live');
    expect((await request(url).get('/health').expect(200)).body.info).toHaveProperty('n3');

    // Retire: its clients are told and disconnected; it leaves /nodes and /health.
    await request(url).delete('/cluster/members/n9').set(auth).expect(404);
    const gone = await request(url).delete('/cluster/members/n3').set(auth).expect(200);
    expect((gone.body as MembershipView).members.find((m) => m.id === 'n3')!.state).toBe('retired');
    expect(await retired).toMatchObject({ nodeId: 'n3' });
    expect(await disconnected).toBe('io server disconnect');
    expect(await nodesOf(url)).toEqual(['n0:active', 'n1:active', 'n2:active']);
    const health = (await request(url).get('/health').expect(200)).body;
    expect(Object.keys(health.info)).toEqual(['n0', 'n1', 'n2']);
    await request(url).post('/nodes/n3/messages').send({ text: 'too late' }).expect(404);
    const refused = io(`${url}/nodes/n3`, { transports: ['websocket'], forceNew: true });
    sockets.push(refused);
    expect(
      await new Promise<string>((resolve) =>
        refused.once('connect_error', (e) => resolve(e.message)),
      ),
    ).toContain('node "n3" was retired');
    await request(url).delete('/cluster/members/n3').set(auth).expect(404);

    // A gateway started again from the founding CHAT_MEMBERS learns the membership from the nodes.
    await c.kill('gateway', 'SIGTERM');
    const again = await c.startGateway({ GATEWAY_ADMIN_TOKEN: TOKEN });
    await c.waitUntil(
      async () => (await request(again).get('/cluster/members').set(auth)).body.version === 3,
      10_000,
      'the restarted gateway to learn the membership',
    );
    expect(await nodesOf(again)).toEqual(['n0:active', 'n1:active', 'n2:active']);
  });

  it('refuses to retire the last member, and says why without a launcher', async () => {
    cluster = await TestCluster.start({ nodes: 1 });
    const url = await cluster.startGateway();
    const last = await request(url).delete('/cluster/members/n0').expect(409);
    expect(last.body.message).toContain('cannot retire n0: it is the last active member');
    const add = await request(url).post('/cluster/nodes').send({ id: 'n1' }).expect(503);
    expect(add.body.message).toContain('not started by npm start');
    await request(url).post('/cluster/nodes').send({ id: '' }).expect(400);
  });
});
