import { connect } from 'node:net';
import { Dealer, Publisher, Subscriber } from 'zeromq';
import { ChatMessage, ClusterKeys, curveServer, ReplicaEvents, Requests } from '@app/contracts';
import { CurveKeyPair, generateCurveKeyPair, ZmqClient, ZmqRequestError } from '@app/zmq-transport';
import { expectCausalAndComplete, OPERATOR_KEY, TestCluster } from './support/cluster';
import { recordingRelay } from './support/zmq';
import { lastValueFrom } from 'rxjs';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Raw zeromq.js socket options of a CURVE client holding `self` that talks to `serverKey`. */
const curveSocket = (self: CurveKeyPair, serverKey: string) => ({
  curveServerKey: serverKey,
  curvePublicKey: self.publicKey,
  curveSecretKey: self.secretKey,
});

/** Collects what a subscriber receives, as text. */
function listen(subscriber: Subscriber): string[] {
  const heard: string[] = [];
  void (async () => {
    try {
      for await (const frames of subscriber) heard.push(frames.map(String).join(' '));
    } catch {
      // closed
    }
  })();
  return heard;
}

describe('chat-node (real processes, real SQLite, real sockets)', () => {
  let cluster: TestCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('delivers 300 concurrent messages exactly once, in causal order, through 30% loss, 20% duplication and jitter', async () => {
    cluster = await TestCluster.start();
    const c = cluster;
    await c.setAllLinks({ dropRate: 0.3, duplicateRate: 0.2, delayMs: 5, jitterMs: 150 });
    const acked = (
      await Promise.all(
        c.ids.map(async (id) => {
          const sent: ChatMessage[] = [];
          for (let i = 0; i < 100; i++) {
            // Each node also answers what it has seen, so histories are causally rich.
            sent.push(await c.send(id, `${id} says ${i}`));
            if (i % 10 === 0) await sleep(20);
          }
          return sent;
        }),
      )
    ).flat();
    expect(acked).toHaveLength(300);
    await c.setAllLinks({ dropRate: 0, duplicateRate: 0, jitterMs: 0 });
    const logs = await c.converge(300, 60_000);
    expectCausalAndComplete(logs, acked);
    expect(logs.get('n0')).toHaveLength(300);
    const states = await Promise.all(c.ids.map((id) => c.state(id)));
    expect(states.some((s) => s.counters.retransmissions > 0)).toBe(true);
    expect(states.some((s) => s.counters.duplicatesDropped > 0)).toBe(true);
    for (const s of states) expect(s.buffered).toEqual([]);
  });

  it('holds a reply back at n2 until its cause crosses the slow n0->n2 link, and says what it waits for', async () => {
    cluster = await TestCluster.start({ env: { CHAT_REPAIR_MS: '5000' } });
    const c = cluster;
    await c.setLink('n2', 'n0', { delayMs: 5000 });
    const hello = await c.send('n0', 'Hello');
    await c.waitUntil(
      async () => (await c.history('n1')).length === 1,
      5000,
      'n1 to deliver Hello',
    );
    const hi = await c.send('n1', 'Hi');
    expect(hi.clock).toEqual({ n0: 1, n1: 1, n2: 0 });
    await c.waitUntil(
      async () => (await c.state('n2')).buffered.length === 1,
      2000,
      'n2 to hold Hi back',
    );
    const state = await c.state('n2');
    expect(state.buffered[0].message.text).toBe('Hi');
    expect(state.buffered[0].waitingFor).toEqual([{ node: 'n0', seq: 1 }]);
    expect(await c.history('n2')).toEqual([]);
    const logs = await c.converge(2, 15_000);
    expect(logs.get('n2')!.map((m) => m.text)).toEqual(['Hello', 'Hi']);
    expectCausalAndComplete(logs, [hello, hi]);
  });

  it('converges after a partition: both sides keep sending, heal, causal order everywhere', async () => {
    cluster = await TestCluster.start();
    const c = cluster;
    await c.partition('n2', true);
    const acked: ChatMessage[] = [];
    for (let i = 0; i < 10; i++) {
      acked.push(
        await c.send('n0', `majority ${i}`),
        await c.send('n1', `majority reply ${i}`),
        await c.send('n2', `minority ${i}`),
      );
    }
    await sleep(500);
    expect((await c.state('n2')).lastIndex).toBe(10);
    expect((await c.state('n2')).peers.every((p) => !p.reachable)).toBe(true);
    await c.partition('n2', false);
    expectCausalAndComplete(await c.converge(30), acked);
  });

  it('survives kill -9 mid-traffic: nothing acknowledged is lost, no seq is reused, the node catches up', async () => {
    cluster = await TestCluster.start();
    const c = cluster;
    const acked: ChatMessage[] = [];
    let running = true;
    const traffic = c.ids.map(async (id) => {
      for (let i = 0; running; i++) {
        try {
          acked.push(await c.send(id, `${id} #${i}`));
        } catch {
          await sleep(50); // the killed node refuses while it is down
        }
      }
    });
    await sleep(700);
    await c.kill('n1');
    const atKill = acked.filter((m) => m.sender === 'n1').length;
    await sleep(700);
    await c.startNode('n1');
    await sleep(700);
    running = false;
    await Promise.all(traffic);
    expect(atKill).toBeGreaterThan(0);
    const logs = await c.converge(acked.length, 30_000);
    expectCausalAndComplete(logs, acked);
    // Every acknowledged n1 message is the one stored under its seq: no seq was handed out twice.
    const n1Log = new Map(logs.get('n1')!.map((m) => [m.id, m.text]));
    for (const m of acked.filter((a) => a.sender === 'n1')) expect(n1Log.get(m.id)).toBe(m.text);
  });

  it('stops a node whose fsync fails; restarted, it keeps what its disk holds and reuses no seq', async () => {
    cluster = await TestCluster.start();
    const c = cluster;
    await c.kill('n1', 'SIGTERM');
    await c.startNode('n1', { CHAT_FAULT_FSYNC_FAIL_AT: '8' }); // its 8th fsync fails (EIO)
    const acked: ChatMessage[] = [];
    let refusal: Error | undefined;
    for (let i = 0; i < 30 && !refusal; i++) {
      acked.push(await c.send('n0', `n0 #${i}`));
      try {
        acked.push(await c.send('n1', `n1 #${i}`));
      } catch (error) {
        refusal = error as Error;
      }
    }
    expect(refusal?.message).toMatch(/storage failed.*EIO.*not acknowledged/);
    expect(acked.filter((m) => m.sender === 'n1')).toHaveLength(7);
    expect(await c.exitCode('n1')).toBe(3);
    expect(c.logs.get('n1')!.join('')).toMatch(/storage failed .*exiting; restart this node/);

    await c.startNode('n1');
    acked.push(await c.send('n1', 'after the restart'), await c.send('n2', 'n2 after'));
    const logs = await c.converge(acked.length, 30_000);
    expectCausalAndComplete(logs, acked);
    // Every acknowledged n1 message is the one stored under its seq; the refused one (its
    // commit went through, only the fsync "failed") is read back after the restart and is
    // the same message at every node — never a different message under the same seq.
    const n1Log = new Map(logs.get('n1')!.map((m) => [m.id, m.text]));
    for (const m of acked.filter((a) => a.sender === 'n1')) expect(n1Log.get(m.id)).toBe(m.text);
    expect(n1Log.get('n1:8')).toBe('n1 #7');
    for (const log of logs.values()) expect(log.find((m) => m.id === 'n1:8')?.text).toBe('n1 #7');
  });

  it('catches a node up page by page without waiting a repair tick per page', async () => {
    // Pages of 10 and a 5 s repair tick: paging paced by the tick would take 15 s or more.
    cluster = await TestCluster.start({ env: { CHAT_FETCH_PAGE: '10', CHAT_REPAIR_MS: '5000' } });
    const c = cluster;
    await c.kill('n2');
    const acked: ChatMessage[] = [];
    for (let i = 0; i < 35; i++)
      acked.push(await c.send(i % 2 ? 'n1' : 'n0', `while n2 was away ${i}`));
    await c.waitUntil(
      async () =>
        (await Promise.all(['n0', 'n1'].map((id) => c.state(id)))).every((s) => s.lastIndex >= 35),
      10_000,
      'n0 and n1 to agree',
    );
    const started = Date.now();
    await c.startNode('n2');
    const logs = await c.converge(35, 20_000);
    const took = Date.now() - started;
    expectCausalAndComplete(logs, acked);
    const n2 = await c.state('n2');
    // about 35 / 10 pages of each sender's messages, none asked twice
    expect(n2.counters.repairRequests).toBeGreaterThanOrEqual(4);
    expect(n2.counters.repairRequests).toBeLessThanOrEqual(10);
    expect(took).toBeLessThan(8_000);
  });

  it('stays healthy under hostile frames on its replication sockets', async () => {
    // A compromised member: it holds n2's key, so the links admit it, and only validation stands.
    cluster = await TestCluster.start({ nodes: 2, impostors: 1 });
    const c = cluster;
    const member = new ZmqClient({ publish: c.pub('n2'), curve: curveServer(c.keys('n2')) });
    await member.connect();
    const hostile = member.unwrap<{ publisher: Publisher }>().publisher;
    const operator: ClusterKeys = c.keys(OPERATOR_KEY);
    const direct = new Dealer({ linger: 0, ...curveSocket(operator.self, operator.publicKeys.n0) });
    direct.connect(c.rpc('n0'));
    try {
      await c.send('n0', 'before');
      await c.converge(1);
      const before = await c.state('n0');
      const good = {
        id: 'n2:1',
        sender: 'n2',
        seq: 1,
        clock: { n2: 1 },
        text: 'x',
        sentAt: new Date().toISOString(),
        trace: {},
      };
      const frames: unknown[] = [
        '{broken json',
        { pattern: ReplicaEvents.message, data: 'not an object' },
        { pattern: ReplicaEvents.message, data: { ...good, clock: { n2: 1, n9: 4 } } },
        `{"pattern":"${ReplicaEvents.message}","data":{"sender":"n2","seq":1,"clock":{"n2":1,"__proto__":{"n0":5}},"text":"x","sentAt":"2026-01-01T00:00:00Z"}}`,
        { pattern: ReplicaEvents.message, data: { ...good, seq: 2 ** 60, clock: { n2: 2 ** 60 } } },
        { pattern: ReplicaEvents.message, data: { ...good, seq: 1e12, clock: { n2: 1e12 } } },
        {
          pattern: ReplicaEvents.message,
          data: { ...good, sender: 'n0', id: 'n0:9', seq: 9, clock: { n0: 9 } },
        },
        { pattern: ReplicaEvents.message, data: { ...good, text: 'x'.repeat(5000) } },
        { pattern: ReplicaEvents.messages, data: { messages: 'not an array' } },
        { pattern: ReplicaEvents.messages, data: { messages: [] } },
        { pattern: ReplicaEvents.messages, data: { messages: Array(65).fill(good) } },
        {
          pattern: ReplicaEvents.messages,
          data: { messages: [{ ...good, sender: 'n0', id: 'n0:9', seq: 9, clock: { n0: 9 } }] },
        },
        { pattern: ReplicaEvents.heartbeat, data: { from: 'n2', clock: { n0: -1 } } },
        { pattern: ReplicaEvents.heartbeat, data: { from: 'n1', clock: {} } },
      ];
      for (let round = 0; round < 20; round++) {
        for (const frame of frames) {
          await hostile.send([
            ReplicaEvents.message,
            typeof frame === 'string' ? frame : JSON.stringify(frame),
          ]);
        }
        await sleep(20);
      }
      await direct.send(JSON.stringify({ pattern: ReplicaEvents.message, data: good }));
      await sleep(300);
      const after = await c.state('n0');
      expect(after.counters.rejected).toBeGreaterThan(before.counters.rejected + 20);
      expect(after.clock).toEqual(before.clock);
      expect(after.buffered).toEqual([]);
      // A far-ahead but well-formed message is held at most; it never corrupts the clock.
      await c.send('n0', 'after');
      await c.send('n1', 'still fine');
      const logs = await c.converge(3);
      expect(logs.get('n0')!.map((m) => m.text)).toEqual(
        expect.arrayContaining(['before', 'after', 'still fine']),
      );
    } finally {
      await member.close();
      direct.close();
    }
  });

  it('admits only the cluster keys: a rogue key, a plaintext process and an impostor at a member port get nothing in and nothing out', async () => {
    cluster = await TestCluster.start({ nodes: 2, impostors: 1 });
    const c = cluster;
    const rogue = generateCurveKeyPair();
    const n0Key = c.keys(OPERATOR_KEY).publicKeys.n0;
    const subscribers = [
      new Subscriber({ linger: 0, ...curveSocket(rogue, n0Key) }),
      new Subscriber({ linger: 0 }),
    ];
    const heard = subscribers.map((subscriber) => {
      subscriber.subscribe();
      subscriber.connect(c.pub('n0'));
      return listen(subscriber);
    });
    const requesters = [
      new ZmqClient({
        connect: c.rpc('n0'),
        connectTimeoutMs: 500,
        curve: { ...rogue, serverKey: n0Key },
      }),
      new ZmqClient({ connect: c.rpc('n0'), connectTimeoutMs: 500 }),
    ];
    // An impostor at n2's publisher port, with a key of its own, offering a well-formed n2 message.
    const impostor = new ZmqClient({
      publish: c.pub('n2'),
      curve: {
        ...rogue,
        allow: { n0: c.keys('n0').self.publicKey, n1: c.keys('n1').self.publicKey },
      },
    });
    await impostor.connect();
    const forged = {
      id: 'n2:1',
      sender: 'n2',
      seq: 1,
      clock: { n2: 1 },
      text: 'forged',
      sentAt: new Date().toISOString(),
    };
    // A plain TCP reader on the publisher port: whatever bytes it is sent.
    const wire: Buffer[] = [];
    const reader = connect(Number(c.pub('n0').split(':').pop()), '127.0.0.1');
    reader.on('data', (chunk) => wire.push(chunk));
    reader.on('error', () => undefined);
    try {
      for (const requester of requesters) {
        const refused = await lastValue(requester, Requests.send, { text: 'let me in' });
        expect((refused as ZmqRequestError).code).toBe('unreachable');
      }
      for (let i = 0; i < 30; i++) {
        await lastValueFrom(impostor.emit(ReplicaEvents.message, forged)).catch(() => undefined);
        await c.send(i % 2 ? 'n0' : 'n1', `secret ${i}`);
        await sleep(10);
      }
      const logs = await c.converge(30);
      for (const log of logs.values()) {
        expect(log.map((m) => m.text)).not.toContain('forged');
        expect(log).toHaveLength(30);
      }
      expect(heard).toEqual([[], []]);
      expect(Buffer.concat(wire).includes('secret')).toBe(false);
      for (const id of c.ids) {
        const state = await c.state(id);
        expect(state.connections.curve).toBe(true);
        expect(state.counters.connectionsRejected).toBeGreaterThan(0);
        const reasons = state.connections.rejected.map((r) => `${r.direction} ${r.reason}`);
        expect(reasons).toEqual(
          expect.arrayContaining([
            expect.stringMatching(/^out CURVE handshake failed|^out handshake failed/),
          ]),
        );
        if (id === 'n0')
          expect(reasons).toEqual(
            expect.arrayContaining([
              expect.stringMatching(/^in unknown CURVE key/),
              'in not a CURVE client (plaintext)',
            ]),
          );
        expect(state.connections.admitted.map((p) => p.name)).toEqual(
          expect.arrayContaining([OPERATOR_KEY]),
        );
      }
    } finally {
      reader.destroy();
      for (const subscriber of subscribers) subscriber.close();
      await Promise.all([...requesters, impostor].map((client) => client.close()));
    }
  });

  it('puts no message text on the wire between a node and its subscribers', async () => {
    cluster = await TestCluster.start({ nodes: 2 });
    const c = cluster;
    const relay = await recordingRelay(Number(c.pub('n0').split(':').pop()));
    const operator = c.keys(OPERATOR_KEY);
    const subscriber = new Subscriber({
      linger: 0,
      ...curveSocket(operator.self, operator.publicKeys.n0),
    });
    subscriber.subscribe();
    subscriber.connect(`tcp://127.0.0.1:${relay.port}`);
    const heard = listen(subscriber);
    try {
      await c.waitUntil(
        async () => {
          await c.send('n0', 'the-cake-is-a-lie');
          return heard.some((frame) => frame.includes('the-cake-is-a-lie'));
        },
        10_000,
        'the message to reach the subscriber through the relay',
      );
      expect(relay.bytes().length).toBeGreaterThan(500);
      expect(relay.bytes().includes('the-cake-is-a-lie')).toBe(false);
    } finally {
      subscriber.close();
      await relay.close();
    }
  });
});

const lastValue = (client: ZmqClient, pattern: string, data: unknown) =>
  lastValueFrom(client.send(pattern, data)).catch((error: unknown) => error);
