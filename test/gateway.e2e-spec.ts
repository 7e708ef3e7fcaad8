import request from 'supertest';
import { io, Socket } from 'socket.io-client';
import { checkCausalDelivery } from '@app/causal';
import { ChatMessage } from '@app/contracts';
import { checked, TestCluster } from './support/cluster';

describe('gateway (gateway + three node processes on loopback)', () => {
  let cluster: TestCluster;
  let url: string;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    cluster = await TestCluster.start({
      env: { CHAT_LINK_DELAY_MS: '5', CHAT_LINK_JITTER_MS: '60' },
    });
    url = await cluster.startGateway();
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await cluster.stop();
  });

  const connect = (id: string, query?: Record<string, string>) =>
    new Promise<{ socket: Socket; hello: { nodeId: string; lastIndex: number } }>(
      (resolve, reject) => {
        const socket = io(`${url}/nodes/${id}`, {
          transports: ['websocket'],
          reconnection: false,
          forceNew: true,
          query,
        });
        sockets.push(socket);
        socket.once('hello', (hello) => resolve({ socket, hello }));
        socket.once('connect_error', reject);
      },
    );

  it('originates, lists, pages and explains every error the contract names', async () => {
    const created = await request(url)
      .post('/nodes/n0/messages')
      .send({ text: '  Hello  ', author: 'ana' })
      .expect(201);
    expect(created.body).toMatchObject({
      id: 'n0:1',
      sender: 'n0',
      seq: 1,
      text: 'Hello',
      author: 'ana',
      clock: { n0: 1, n1: 0, n2: 0 },
      index: 1,
    });

    const missing = await request(url).post('/nodes/n0/messages').send({}).expect(400);
    expect(missing.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    expect(missing.body.message.join(' ')).toMatch(/text/);
    expect(
      (await request(url).post('/nodes/n0/messages').send({ text: '   ' }).expect(400)).body
        .message,
    ).toContain('text must not be empty');
    expect(
      (
        await request(url)
          .post('/nodes/n0/messages')
          .send({ text: 'x'.repeat(2001) })
          .expect(400)
      ).body.message,
    ).toContain('text must be at most 2000 characters');
    expect(
      (
        await request(url)
          .post('/nodes/n0/messages')
          .send({ text: 'x', author: 'a'.repeat(65) })
          .expect(400)
      ).body.message,
    ).toContain('author must be at most 64 characters');
    expect(
      (await request(url).post('/nodes/n0/messages').send({ text: 'x', admin: true }).expect(400))
        .body.message,
    ).toContain('property admin should not exist');
    expect(
      (await request(url).post('/nodes/n9/messages').send({ text: 'x' }).expect(404)).body.message,
    ).toMatch(/unknown node "n9".*n0, n1, n2/);
    const tooLarge = await request(url)
      .post('/nodes/n0/messages')
      .set('content-type', 'application/json')
      .send(JSON.stringify({ text: 'x'.repeat(100_000) }));
    expect(tooLarge.status).toBe(413);

    await cluster.waitUntil(
      async () => (await request(url).get('/nodes/n2/messages')).body.lastIndex === 1,
      5000,
      'n2 to deliver',
    );
    const second = await request(url).post('/nodes/n2/messages').send({ text: 'Hi' }).expect(201);
    expect(second.body.clock).toEqual({ n0: 1, n1: 0, n2: 1 });
    const page = await request(url).get('/nodes/n2/messages?after=1&limit=1').expect(200);
    expect(page.body).toMatchObject({
      nodeId: 'n2',
      lastIndex: 2,
      messages: [{ id: 'n2:1', index: 2 }],
    });
    expect(
      (await request(url).get('/nodes/n2/messages?limit=0').expect(400)).body.message.join(' '),
    ).toMatch(/limit/);

    const nodes = await request(url).get('/nodes').expect(200);
    expect(nodes.body.map((n: { id: string; up: boolean }) => [n.id, n.up])).toEqual([
      ['n0', true],
      ['n1', true],
      ['n2', true],
    ]);
    const state = await request(url).get('/nodes/n1/state').expect(200);
    expect(state.body).toMatchObject({
      nodeId: 'n1',
      members: ['n0', 'n1', 'n2'],
      peers: expect.any(Array),
      counters: expect.any(Object),
    });

    const log = await request(url).get('/nodes/n0/log?format=shiviz').expect(200);
    expect(log.text.split('\n')[0]).toBe('(?<host>\\S*) (?<clock>{.*})\\n(?<event>.*)');
    expect(log.text).toMatch(/^n0 \{"n0":1\}\nsend n0:1 hlc=\d{13}\.0 "Hello"$/m);
    await request(url).get('/nodes/n0/log?format=xml').expect(400);
  });

  it('pages the event log with a cursor, streams all of it, and refuses bad ranges naming the field', async () => {
    for (let i = 0; i < 35; i++)
      await request(url)
        .post(`/nodes/n${i % 3}/messages`)
        .send({ text: `paged ${i}` })
        .expect(201);
    // Quiet first: the stream and the pages must read the same trace.
    await cluster.converge(35);
    const header = '(?<host>\\S*) (?<clock>{.*})\\n(?<event>.*)\n\n';
    const all = await request(url).get('/nodes/n0/log?format=shiviz&limit=all').expect(200);
    expect(all.headers['content-type']).toMatch(/^text\/plain/);
    expect(all.text.startsWith(header)).toBe(true);
    expect(all.headers['x-next-after']).toBeUndefined();
    const events = all.text.slice(header.length).split('\n').filter(Boolean).length / 2;
    expect(events).toBeGreaterThan(35 * 2);

    let body = '';
    let after = '0';
    let pages = 0;
    for (;;) {
      const page = await request(url).get(`/nodes/n0/log?after=${after}&limit=10`).expect(200);
      expect(page.text.startsWith(header)).toBe(true);
      body += page.text.slice(header.length);
      pages++;
      if (!page.headers['x-next-after']) break;
      after = page.headers['x-next-after'];
    }
    // Page by page, every event exactly once and in order: the same text as the stream.
    expect(body).toBe(all.text.slice(header.length));
    expect(pages).toBeGreaterThan(events / 40);

    for (const [query, message] of [
      ['limit=0', 'limit must be "all" or an integer from 1 to 20000'],
      ['limit=lots', 'limit must be "all" or an integer from 1 to 20000'],
      ['limit=20001', 'limit must be "all" or an integer from 1 to 20000, got 20001'],
      ['after=-1', 'after must be a non-negative integer'],
    ]) {
      const refused = await request(url).get(`/nodes/n0/log?${query}`).expect(400);
      expect([].concat(refused.body.message).join(' ')).toContain(message);
    }
  });

  it("gives every member's events as one ShiViz log that passes ShiViz's own rule, streamed or paged", async () => {
    await cluster.converge(35);
    const header = '(?<host>\\S*) (?<clock>{.*})\\n(?<event>.*)\n\n';
    const all = await request(url).get('/cluster/log?format=shiviz&limit=all').expect(200);
    expect(all.text.startsWith(header)).toBe(true);
    const lines = all.text.slice(header.length).split('\n').filter(Boolean);
    const events = new Map<string, Record<string, number>[]>();
    const named = new Set<string>();
    for (let i = 0; i < lines.length; i += 2) {
      const match = /^(\S+) (\{.*\})$/.exec(lines[i]);
      expect(match).not.toBeNull();
      const [, host, json] = match!;
      const clock = JSON.parse(json) as Record<string, number>;
      for (const id of Object.keys(clock)) named.add(id);
      events.set(host, [...(events.get(host) ?? []), clock]);
      expect(lines[i + 1]).toMatch(
        /^(send|receive|deliver|duplicate|lost|copied|link|clock|inbox) /,
      );
    }
    // ShiViz's rule: every host named in any clock has events in the log, and each host's
    // own entry counts its events, 1, 2, 3, … in the order they are listed.
    expect([...named].sort()).toEqual([...events.keys()].sort());
    expect([...events.keys()].sort()).toEqual(['n0', 'n1', 'n2']);
    for (const [host, clocks] of events)
      clocks.forEach((clock, i) => expect(clock[host]).toBe(i + 1));
    // A node's own log alone breaks that rule: it names hosts it has no events of.
    const one = await request(url).get('/nodes/n0/log?format=shiviz&limit=all').expect(200);
    expect(one.text).toContain('"n1":');
    expect(one.text).not.toMatch(/^n1 /m);

    // Page by page with the cursor: the same events, once each, in the same order.
    let body = '';
    let after = '';
    for (let pages = 0; ; pages++) {
      const page = await request(url)
        .get(`/cluster/log?limit=40${after ? `&after=${after}` : ''}`)
        .expect(200);
      body += page.text.slice(header.length);
      if (!page.headers['x-next-after']) break;
      after = page.headers['x-next-after'];
      expect(after).toMatch(/^n[0-2]:\d+$/);
      expect(pages).toBeLessThan(1000);
    }
    expect(body).toBe(all.text.slice(header.length));
    for (const [query, message] of [
      ['after=n9:0', 'after names n9, not a member'],
      ['after=5', 'after must be a cursor "node:position"'],
      ['limit=0', 'limit must be "all" or an integer from 1 to 20000'],
      ['format=xml', 'format must be "shiviz"'],
    ]) {
      const refused = await request(url).get(`/cluster/log?${query}`).expect(400);
      expect([].concat(refused.body.message).join(' ')).toContain(message);
    }
  });

  it('reads and changes simulated links, and resets them', async () => {
    const changed = await request(url)
      .put('/network/links/n0/n2')
      .send({ dropRate: 0.5, partitioned: true })
      .expect(200);
    expect(changed.body).toMatchObject({
      from: 'n0',
      to: 'n2',
      dropRate: 0.5,
      partitioned: true,
      delayMs: 5,
    });
    expect((await request(url).get('/network/links/n0/n2').expect(200)).body.partitioned).toBe(
      true,
    );
    expect(
      (
        await request(url).put('/network/links/n0/n2').send({ dropRate: 3 }).expect(400)
      ).body.message.join(' '),
    ).toMatch(/dropRate/);
    await request(url).put('/network/links/n0/n0').send({ delayMs: 1 }).expect(400);
    await request(url).put('/network/links/n0/n7').send({ delayMs: 1 }).expect(404);
    const all = await request(url).get('/network').expect(200);
    expect(all.body.links).toHaveLength(6);
    const reset = await request(url).delete('/network').expect(200);
    expect(
      reset.body.links.every(
        (l: { partitioned: boolean; dropRate: number }) => !l.partitioned && l.dropRate === 0,
      ),
    ).toBe(true);
  });

  it("streams every delivery to Socket.IO subscribers of all three nodes, in each node's causal order", async () => {
    const clients = await Promise.all(['n0', 'n1', 'n2'].map((id) => connect(id)));
    for (const { hello } of clients) expect(hello.lastIndex).toBeGreaterThanOrEqual(2);
    const received = new Map<string, ChatMessage[]>(['n0', 'n1', 'n2'].map((id) => [id, []]));
    const batches: { nodeId: string; messages: ChatMessage[]; clock: Record<string, number> }[] =
      [];
    clients.forEach(({ socket }, i) =>
      socket.on('deliveries', (batch: (typeof batches)[number]) => {
        batches.push(batch);
        received.get(`n${i}`)!.push(...batch.messages);
      }),
    );
    // A client of the first wave's shape gets one `delivered` per message and a `clock` after.
    const old = await connect('n1', { events: 'delivered' });
    const oldEvents: string[] = [];
    old.socket.onAny((event: string, payload: { index?: number }) =>
      oldEvents.push(event === 'delivered' ? `delivered ${payload.index}` : event),
    );
    const acked: ChatMessage[] = [];
    for (let i = 0; i < 10; i++) {
      const { socket } = clients[i % 3];
      acked.push(
        await new Promise<ChatMessage>((resolve) =>
          socket.emit('send', { text: `socket ${i}` }, resolve),
        ),
      );
    }
    const invalid = await new Promise<{ error: { statusCode: number; message: string } }>(
      (resolve) => clients[0].socket.emit('send', { text: '' }, resolve),
    );
    expect(invalid.error).toEqual({ statusCode: 400, message: 'text must not be empty' });
    await cluster.waitUntil(
      () =>
        [...received.values()].every((list) => list.length === 10) &&
        oldEvents.filter((e) => e.startsWith('delivered')).length === 10,
      10_000,
      'every subscriber to see 10 messages',
    );
    // Each batch is one node's, carries that node's clock after it, and its indexes run on.
    for (const batch of batches) {
      expect(batch.messages.length).toBeGreaterThan(0);
      // Every message carries the hybrid logical timestamp its sender gave it.
      for (const m of batch.messages)
        expect(m.hlc).toEqual({ wallMs: expect.any(Number), logical: expect.any(Number) });
      expect(batch.clock).toEqual(expect.objectContaining({ n0: expect.any(Number) }));
      const last = batch.messages[batch.messages.length - 1];
      expect(batch.messages.map((m) => m.index)).toEqual(
        batch.messages.map((_, k) => last.index! - batch.messages.length + 1 + k),
      );
    }
    expect(oldEvents).not.toContain('deliveries');
    expect(oldEvents.filter((e) => e === 'clock').length).toBeGreaterThan(0);
    expect(oldEvents.filter((e) => e.startsWith('delivered'))).toEqual(
      received.get('n1')!.map((m) => `delivered ${m.index}`),
    );
    // A client that joined mid-stream reads history up to hello.lastIndex, then live events: nothing missed.
    for (const [i, { hello }] of clients.entries()) {
      const id = `n${i}`;
      const history = await request(url)
        .get(`/nodes/${id}/messages?after=0&limit=1000`)
        .expect(200);
      const before = (history.body.messages as ChatMessage[]).filter(
        (m) => m.index! <= hello.lastIndex,
      );
      const live = received.get(id)!.filter((m) => m.index! > hello.lastIndex);
      const whole = [...before, ...live];
      expect(whole.map((m) => m.index)).toEqual(whole.map((_, k) => k + 1));
      received.set(id, whole);
    }
    const report = checkCausalDelivery({
      deliveries: Object.fromEntries([...received].map(([id, list]) => [id, checked(list)])),
      acknowledged: acked,
    });
    expect(report.violations).toEqual([]);
    for (const list of received.values()) {
      const indexes = list.map((m) => m.index!);
      expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
    }
  });

  it('refuses an unknown node namespace with a clear connect error', async () => {
    await expect(connect('n9')).rejects.toThrow(/unknown node "n9"/);
  });

  it('reports a causally consistent cluster, documents every path, serves the UI, health and metrics', async () => {
    const consistency = await request(url).get('/cluster/consistency').expect(200);
    expect(consistency.body).toMatchObject({ ok: true, violations: [], unreachable: [] });
    const docs = await request(url).get('/docs-json').expect(200);
    expect(Object.keys(docs.body.paths).sort()).toEqual(
      [
        '/clocks',
        '/clocks/sync',
        '/clocks/{id}',
        '/cluster/consistency',
        '/cluster/log',
        '/cluster/members',
        '/cluster/members/{id}',
        '/cluster/nodes',
        '/cluster/run',
        '/health',
        '/metrics',
        '/network',
        '/network/links/{from}/{to}',
        '/nodes',
        '/nodes/{id}/inbox',
        '/nodes/{id}/inbox/{flightId}',
        '/nodes/{id}/log',
        '/nodes/{id}/messages',
        '/nodes/{id}/state',
      ].sort(),
    );
    await request(url).get('/docs').expect(200);
    expect((await request(url).get('/').expect(200)).text).toContain('Causal chat');
    expect((await request(url).get('/health').expect(200)).body.status).toBe('ok');
    const metrics = await request(url).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/chat_node_counter\{node="n0",counter="delivered"\} \d+/);
    expect(metrics.text).toMatch(
      /gateway_http_requests_total\{method="GET",route="\/nodes\/:id\/state",status="200"\}/,
    );
    // The Socket.IO test above had deliveries relayed to its subscribers.
    expect(metrics.text).toMatch(/gateway_node_events_relayed_total\{event="delivered"\} [1-9]\d*/);
  });

  it('sends the same security headers on the API, the UI and the docs', async () => {
    for (const path of ['/nodes', '/', '/main.js', '/docs']) {
      const { headers } = await request(url).get(path).expect(200);
      expect(headers['content-security-policy']).toContain("script-src 'self'");
      expect(headers['content-security-policy']).toContain("connect-src 'self' ws: wss:");
      expect(headers['x-content-type-options']).toBe('nosniff');
      expect(headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(headers['strict-transport-security']).toContain('max-age=');
    }
    // An error answer is covered too.
    const missing = await request(url).get('/nodes/n9/state').expect(404);
    expect(missing.headers['x-content-type-options']).toBe('nosniff');
  });

  it('checks logs longer than one history page, streaming them page by page', async () => {
    // 1,000 messages a page: 1,200 more make every log span two pages at least.
    for (let batch = 0; batch < 12; batch++)
      await Promise.all(
        Array.from({ length: 100 }, (_, i) => cluster.send(['n0', 'n1', 'n2'][i % 3], `bulk ${i}`)),
      );
    const lastIndexes = async () =>
      Promise.all(['n0', 'n1', 'n2'].map(async (id) => (await cluster.state(id)).lastIndex));
    // Each node's own clock entry counts what it originated: together, every message sent.
    let total = 0;
    for (const id of ['n0', 'n1', 'n2']) total += (await cluster.state(id)).clock[id];
    expect(total).toBeGreaterThan(1200);
    await cluster.waitUntil(
      async () => (await lastIndexes()).every((index) => index === total),
      20_000,
      'every node to deliver the bulk messages',
    );
    const consistency = await request(url).get('/cluster/consistency').expect(200);
    expect(consistency.body).toMatchObject({
      ok: true,
      violations: [],
      unreachable: [],
      counts: { n0: total, n1: total, n2: total },
    });
  });

  it('reports a killed node down and answers 503 for it quickly while the others keep working', async () => {
    await cluster.kill('n2');
    // The claim is about a node the gateway knows is down; until its socket has seen the
    // disconnect, a request may still be written into the dying connection and time out.
    await cluster.waitUntil(
      async () =>
        (await request(url).get('/nodes')).body.some(
          (n: { id: string; up: boolean }) => n.id === 'n2' && !n.up,
        ),
      10_000,
      'the gateway to see n2 down',
    );
    const started = Date.now();
    const refused = await request(url)
      .post('/nodes/n2/messages')
      .send({ text: 'anyone?' })
      .expect(503);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(refused.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
    expect(refused.body.message).toMatch(/node n2/);
    const health = await request(url).get('/health').expect(503);
    expect(health.body.error.n2.status).toBe('down');
    const nodes = await request(url).get('/nodes').expect(200);
    expect(nodes.body.find((n: { id: string }) => n.id === 'n2').up).toBe(false);
    await request(url).post('/nodes/n0/messages').send({ text: 'still here' }).expect(201);
  });
});
