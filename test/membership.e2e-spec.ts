import { once } from 'node:events';
import { VectorClock } from '@app/causal';
import { ChatMessage, MembershipView, NodeState, Requests } from '@app/contracts';
import { expectCausalAndComplete, TestCluster } from './support/cluster';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Traffic generators still running: stopped after each test, whatever happened. */
const running: { stop(): Promise<void> }[] = [];

/** Sends from each of `ids` until `stop()` is called; returns what was acknowledged. */
function traffic(c: TestCluster, ids: () => string[], pauseMs = 15) {
  const acked: ChatMessage[] = [];
  const refused: string[] = [];
  let going = true;
  const loops = new Map<string, Promise<void>>();
  const loop = async (id: string) => {
    for (let i = 0; going; i++) {
      try {
        acked.push(await c.send(id, `${id} says ${i}`));
      } catch (error) {
        refused.push(`${id}: ${(error as { message?: string }).message ?? String(error)}`);
        await sleep(50);
      }
      await sleep(pauseMs);
    }
  };
  const sync = () => {
    for (const id of ids()) if (!loops.has(id)) loops.set(id, loop(id));
  };
  sync();
  const timer = setInterval(sync, 100);
  const load = {
    acked,
    refused,
    async stop() {
      going = false;
      clearInterval(timer);
      await Promise.all(loops.values());
    },
  };
  running.push(load);
  return load;
}

/** `a` has seen everything `b` has. */
const covers = (a: VectorClock, b: VectorClock) => ['after', 'equal'].includes(a.compare(b));

const membershipOf = (c: TestCluster, id: string) =>
  c.request<MembershipView>(id, Requests.membership);

describe('membership: nodes join and leave a running cluster (real processes, real SQLite)', () => {
  let cluster: TestCluster | undefined;
  afterEach(async () => {
    for (const load of running.splice(0)) await load.stop();
    await cluster?.stop();
    cluster = undefined;
  });

  it('admits and joins a fourth node under traffic and link faults; it catches up and its first message follows all of it', async () => {
    cluster = await TestCluster.start({ spare: 1, env: { CHAT_FETCH_PAGE: '100' } });
    const c = cluster;
    await c.setAllLinks({ dropRate: 0.2, duplicateRate: 0.1, delayMs: 2, jitterMs: 40 });
    const load = traffic(c, () => c.ids); // n3 too, once it is started
    await c.waitUntil(() => load.acked.length >= 300, 30_000, '300 messages before the join');

    const admitted = await c.admit('n3', 'n0');
    expect(admitted).toMatchObject({
      members: expect.arrayContaining([
        expect.objectContaining({ id: 'n3', state: 'admitted', address: c.address('n3') }),
      ]),
    });
    const admittedAt = (await c.state('n0')).clock;
    await c.startJoiner('n3', 'n1');
    // While it catches up it says so instead of taking messages.
    const early = await c.send('n3', 'too early').catch((error: { code?: string }) => error);
    if ('code' in early) expect(early).toMatchObject({ code: 'JOINING' });

    await c.waitUntil(
      async () =>
        (await membershipOf(c, 'n0')).members.find((m) => m.id === 'n3')?.state === 'active',
      60_000,
      'n3 to join',
    );
    // Everyone learns it, and traffic goes on from all four.
    for (const id of ['n0', 'n1', 'n2', 'n3'])
      await c.waitUntil(
        async () => (await membershipOf(c, id)).members.every((m) => m.state === 'active'),
        20_000,
        `${id} to see n3 active`,
      );
    const before = load.acked.length;
    await c.waitUntil(
      () =>
        load.acked.filter((m) => m.sender === 'n3').length >= 20 &&
        load.acked.length > before + 100,
      30_000,
      'traffic from all four',
    );
    await load.stop();
    await c.setAllLinks({ dropRate: 0, duplicateRate: 0, jitterMs: 0 });
    const logs = await c.converge(load.acked.length, 60_000);
    expect([...logs.keys()]).toEqual(['n0', 'n1', 'n2', 'n3']);
    expectCausalAndComplete(logs, load.acked);

    // n3:1 is its "joined" entry, after everything the member had when it granted the join
    // (at least all that existed at admission) and after all n3 delivered before it.
    const n3 = logs.get('n3')!;
    const joined = n3.find((m) => m.id === 'n3:1')!;
    expect(joined.member).toEqual({ op: 'join', id: 'n3' });
    const joinClock = VectorClock.of(joined.clock);
    expect(covers(joinClock, VectorClock.of(admittedAt))).toBe(true);
    for (const m of n3.filter((m) => m.index! < joined.index!))
      expect(covers(joinClock, VectorClock.of(m.clock))).toBe(true);
    // The admit and the join sit at one place in every history: after the same past.
    for (const log of logs.values()) {
      const admit = log.find((m) => m.member?.op === 'admit')!;
      expect(admit.member).toMatchObject({ op: 'admit', id: 'n3' });
      expect(log.findIndex((m) => m.id === admit.id)).toBeLessThan(
        log.findIndex((m) => m.id === 'n3:1'),
      );
    }
    expect(load.acked.filter((m) => m.sender === 'n3')[0].seq).toBeGreaterThan(1);
  });

  it('retires a member under traffic: all it acknowledged arrives everywhere, nobody waits for it, and restarts keep the membership', async () => {
    cluster = await TestCluster.start({ nodes: 4 });
    const c = cluster;
    await c.setAllLinks({ dropRate: 0.1, jitterMs: 30 });
    let senders = ['n0', 'n1', 'n2', 'n3'];
    const load = traffic(c, () => senders);
    await c.waitUntil(
      () => load.acked.filter((m) => m.sender === 'n3').length >= 50,
      30_000,
      'n3 traffic',
    );

    const view = await c.request<MembershipView>('n0', Requests.retire, { id: 'n3' });
    expect(view.members.find((m) => m.id === 'n3')).toMatchObject({ state: 'retired' });
    const exited = Promise.race([c.exitCode('n3'), sleep(20_000).then(() => 'still running')]);
    expect(await exited).toBe(10); // told, it closed cleanly and said "retired"
    senders = ['n0', 'n1', 'n2'];
    c.ids.splice(c.ids.indexOf('n3'), 1);
    const n3Acked = load.acked.filter((m) => m.sender === 'n3');
    await sleep(500);
    await load.stop();
    await c.setAllLinks({ dropRate: 0, jitterMs: 0 });
    const logs = await c.converge(load.acked.length, 60_000);
    expectCausalAndComplete(logs, load.acked);
    const ids = new Set(logs.get('n0')!.map((m) => m.id));
    for (const m of n3Acked) expect(ids.has(m.id)).toBe(true);
    const retireEntry = logs.get('n0')!.find((m) => m.member?.op === 'retire')!;
    expect(retireEntry.member).toEqual({ op: 'retire', id: 'n3', lastSeq: expect.any(Number) });
    expect((retireEntry.member as { lastSeq: number }).lastSeq).toBeGreaterThanOrEqual(
      n3Acked.length,
    );
    expect(retireEntry.clock.n3).toBe((retireEntry.member as { lastSeq: number }).lastSeq);

    // Nobody waits for it: no peer view of n3, nothing held, new traffic flows at once.
    for (const id of c.ids) {
      const state = await c.state(id);
      expect(state.members).toEqual(['n0', 'n1', 'n2']);
      expect(state.peers.map((p) => p.id)).not.toContain('n3');
      expect(state.buffered).toEqual([]);
    }

    // Every process restarted: the membership is what the logs say.
    for (const id of c.ids) await c.kill(id, 'SIGTERM');
    for (const id of c.ids) await c.startNode(id);
    await c.waitForMesh();
    for (const id of c.ids)
      expect((await membershipOf(c, id)).members.map((m) => `${m.id}:${m.state}`)).toEqual([
        'n0:active',
        'n1:active',
        'n2:active',
        'n3:retired',
      ]);
    expect((await c.send('n1', 'after the restart')).seq).toBeGreaterThan(0);
    // The retired node does not come back.
    const again = c.spawnNode('n3');
    const [code] = (await once(again, 'exit')) as [number];
    expect(code).toBe(10);
    expect(c.logs.get('n3')!.join('')).toContain('was retired from the cluster');
  });

  it('refuses bad membership changes with a clear error and leaves the membership as it was', async () => {
    cluster = await TestCluster.start({ spare: 2, env: { CHAT_RETIRE_WAIT_MS: '1500' } });
    const c = cluster;
    const refused = (id: string, pattern: string, body: unknown) =>
      c.request(id, pattern, body).then(
        () => {
          throw new Error(`${pattern} ${JSON.stringify(body)} was accepted`);
        },
        (error: { code: string; message: string }) => error,
      );
    expect(
      await refused('n0', Requests.admit, {
        id: 'n1',
        address: c.address('n3'),
        publicKey: c.publicKey('n3'),
      }),
    ).toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('n1 is already a member'),
    });
    expect(await refused('n0', Requests.admit, { id: 'n3', address: 'nowhere' })).toMatchObject({
      code: 'INVALID',
      message: expect.stringContaining('address'),
    });
    expect(
      await refused('n0', Requests.admit, { id: 'n3', address: c.address('n3') }),
    ).toMatchObject({
      code: 'INVALID',
      message: expect.stringContaining('publicKey: is required'),
    });
    expect(
      await refused('n0', Requests.admit, {
        id: 'n3',
        address: c.address('n1'),
        publicKey: c.publicKey('n3'),
      }),
    ).toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining("n1's address"),
    });
    expect(await refused('n0', Requests.retire, { id: 'n9' })).toMatchObject({
      code: 'UNKNOWN',
      message: expect.stringContaining('unknown member "n9"'),
    });
    expect(await refused('n0', Requests.retire, { id: 'n0' })).toMatchObject({ code: 'CONFLICT' });

    // A joiner that was not admitted, or that asks an address where nobody answers, stops
    // with a line that says why.
    const notAdmitted = c.spawnNode('n3', {
      CHAT_JOIN: c.address('n0'),
      CHAT_NODE_ADDRESS: c.address('n3'),
      CHAT_JOIN_KEY: c.publicKey('n0')!,
      CHAT_JOIN_TIMEOUT_MS: '2000',
      CHAT_MEMBERS: '',
    });
    expect((await once(notAdmitted, 'exit'))[0]).toBe(2);
    expect(c.logs.get('n3')!.join('')).toMatch(/CHAT_JOIN: .*(no answer|not admitted)/);
    const nowhere = c.spawnNode('n4', {
      CHAT_JOIN: '127.0.0.1:1',
      CHAT_NODE_ADDRESS: c.address('n4'),
      CHAT_JOIN_KEY: c.publicKey('n0')!,
      CHAT_JOIN_TIMEOUT_MS: '2000',
      CHAT_MEMBERS: '',
    });
    expect((await once(nowhere, 'exit'))[0]).toBe(2);
    expect(c.logs.get('n4')!.join('')).toContain('CHAT_JOIN: no answer from 127.0.0.1:1');

    // Two processes racing to join as n3: the first asker holds the grant, the second is told.
    await c.admit('n3', 'n0');
    expect(
      await refused('n0', Requests.admit, {
        id: 'n3',
        address: c.address('n4'),
        publicKey: c.publicKey('n4'),
      }),
    ).toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('n3 is already a member (admitted'),
    });
    const ask = (nonce: string) => ({ id: 'n3', address: c.address('n3'), nonce });
    await c.request('n0', Requests.join, ask('first'));
    expect(await refused('n0', Requests.join, ask('second'))).toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('n3 is already joining'),
    });
    expect(
      await refused('n0', Requests.join, { ...ask('first'), address: c.address('n4') }),
    ).toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining(`n3 was admitted at ${c.address('n3')}`),
    });
    const expected = ['n0:active', 'n1:active', 'n2:active', 'n3:admitted'];
    const seen = async (id: string) =>
      (await membershipOf(c, id)).members.map((m) => `${m.id}:${m.state}`);
    for (const id of c.ids)
      await c.waitUntil(
        async () => JSON.stringify(await seen(id)) === JSON.stringify(expected),
        10_000,
        `${id} to apply the one admission`,
      );
    await sleep(300);
    for (const id of c.ids) expect(await seen(id)).toEqual(expected);
    const states: NodeState[] = await Promise.all(c.ids.map((id) => c.state(id)));
    for (const s of states) expect(s.buffered).toEqual([]);

    // A retirement whose coordinator cannot get the member's messages does not go ahead, and
    // the member, told to stop originating for it, takes messages again.
    await c.setLink('n0', 'n1', { partitioned: true });
    await c.setLink('n0', 'n2', { partitioned: true });
    await c.send('n2', 'only n2 and n1 have this');
    expect(await refused('n0', Requests.retire, { id: 'n2' })).toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('cannot retire n2 yet: n0 has'),
    });
    await c.waitUntil(
      () =>
        c.send('n2', 'n2 takes messages again').then(
          () => true,
          () => false,
        ),
      5_000,
      'n2 to take messages again',
    );
    expect((await membershipOf(c, 'n0')).members.find((m) => m.id === 'n2')!.state).toBe('active');
  });
});
