import request from 'supertest';
import { HlcChecker, VectorClock } from '@app/causal';
import { ChatMessage, TimeView } from '@app/contracts';
import { expectCausalAndComplete, TestCluster } from './support/cluster';

const TOKEN = 'time-test-operator-token-0123456789';
const auth = { Authorization: `Bearer ${TOKEN}` };

/**
 * Clocks on real processes: offsets and drifts set at run time, NTP estimates over links with
 * delay and jitter, Berkeley and Cristian synchronization, clocks stepped in the middle of
 * traffic, and the HLC's guarantee over every delivered pair.
 */
describe('time (gateway + three node processes with clocks of their own)', () => {
  let cluster: TestCluster;
  let url: string;

  beforeAll(async () => {
    cluster = await TestCluster.start({
      env: {
        CHAT_LINK_DELAY_MS: '10',
        CHAT_LINK_JITTER_MS: '20',
        CHAT_CLOCK_PING_MS: '200',
      },
    });
    url = await cluster.startGateway({ GATEWAY_ADMIN_TOKEN: TOKEN });
  });
  afterAll(() => cluster.stop());

  const times = async (): Promise<Map<string, TimeView>> =>
    new Map(
      await Promise.all(
        cluster.ids.map(async (id) => [id, (await cluster.state(id)).time] as const),
      ),
    );
  const setClock = (id: string, body: object) =>
    request(url).put(`/clocks/${id}`).set(auth).send(body).expect(200);
  const setSync = (mode: string) =>
    request(url).put('/clocks/sync').set(auth).send({ mode }).expect(200);
  /** The clock each node uses, as an error from true time: raw offset plus correction. */
  const errorFromTrue = (t: TimeView) => t.offsetMs + t.correctionMs;

  it('with every offset 0, a message’s hlc.wallMs is its sentAt, which is true time', async () => {
    const sent = await request(url).post('/nodes/n0/messages').send({ text: 'tick' }).expect(201);
    const m = sent.body as ChatMessage;
    expect(Math.abs(m.hlc!.wallMs - Date.parse(m.sentAt))).toBeLessThanOrEqual(5);
    // True time is only spelled out where a clock was wrong.
    expect(m.trueSentAt).toBeUndefined();
    expect(m.trueDeliveredAt).toBeUndefined();
  });

  it('shows offsets set at run time in /clocks and in sentAt and deliveredAt', async () => {
    const set = await setClock('n2', { offsetMs: -5_000 });
    expect(set.body).toMatchObject({ nodeId: 'n2', offsetMs: -5_000, driftPpm: 0, sync: 'off' });
    await setClock('n1', { offsetMs: 120_000, driftPpm: 800 });
    const clocks = await request(url).get('/clocks').expect(200);
    const trueNow = Date.parse(clocks.body.now);
    const byId = Object.fromEntries(
      (
        clocks.body.clocks as { nodeId: string; now: string; rawNow: string; offsetMs: number }[]
      ).map((c) => [c.nodeId, c]),
    );
    expect(byId.n2.offsetMs).toBe(-5_000);
    expect(Math.abs(Date.parse(byId.n2.now) - (trueNow - 5_000))).toBeLessThan(1_000);
    expect(byId.n1.offsetMs).toBeGreaterThanOrEqual(120_000); // drifting forward
    expect(byId.n0.rawNow).toBe(byId.n0.now);

    const m = (await request(url).post('/nodes/n2/messages').send({ text: 'late' }).expect(201))
      .body as ChatMessage;
    expect(Date.parse(m.trueSentAt!) - Date.parse(m.sentAt)).toBeGreaterThanOrEqual(4_990);
    await cluster.waitUntil(
      async () => (await cluster.history('n1')).some((d) => d.id === m.id),
      10_000,
      'n1 to deliver n2’s message',
    );
    const atN1 = (await cluster.history('n1')).find((d) => d.id === m.id)!;
    expect(Date.parse(atN1.deliveredAt!) - Date.parse(atN1.trueDeliveredAt!)).toBeGreaterThan(
      119_000,
    );
  });

  it('estimates every peer’s offset within its error bound, over links with delay and jitter', async () => {
    // A peer learns of a clock step from its next ping (its samples from before are dropped),
    // so right after the steps above the estimates may still be old: they must come right.
    const wrong = (all: Map<string, TimeView>) => {
      const found: string[] = [];
      for (const [id, t] of all)
        for (const [peer, estimate] of Object.entries(t.peers)) {
          const truth = all.get(peer)!.offsetMs - t.offsetMs;
          // The bound is half the round trip; n1 drifts a little since the sample.
          if (Math.abs(estimate.offsetMs - truth) > estimate.errorMs + 5 || estimate.samples < 4)
            found.push(
              `${id}'s estimate of ${peer}: ${estimate.offsetMs} ± ${estimate.errorMs}, truth ${truth}`,
            );
        }
      return found;
    };
    let all = await times();
    await cluster.waitUntil(
      async () => wrong((all = await times())).length === 0,
      15_000,
      'every estimate within its bound (four samples or more)',
    );
    for (const [id, t] of all) {
      expect(Object.keys(t.peers).sort()).toEqual(cluster.ids.filter((p) => p !== id));
      for (const estimate of Object.values(t.peers))
        expect(estimate.rttMs).toBeGreaterThanOrEqual(20); // both link delays are in it
    }
    // And they stay right round after round (no drift of the estimates themselves).
    await new Promise((r) => setTimeout(r, 1_000));
    expect(wrong(await times())).toEqual([]);
  });

  it('leaves the raw clocks wrong with sync off, and converges them with Berkeley and Cristian', async () => {
    await setClock('n1', { driftPpm: 0 });
    await new Promise((r) => setTimeout(r, 1_000));
    let all = await times();
    const spread = (ts: Map<string, TimeView>) => {
      const e = [...ts.values()].map(errorFromTrue);
      return Math.max(...e) - Math.min(...e);
    };
    expect(spread(all)).toBeGreaterThan(100_000);

    for (const mode of ['berkeley', 'cristian']) {
      const sync = await setSync(mode);
      expect(sync.body).toMatchObject({ mode, modes: ['off', 'berkeley', 'cristian'] });
      await cluster.waitUntil(
        async () => {
          all = await times();
          return [...all.values()].every((t) => t.sync === mode && t.lastRound !== null);
        },
        10_000,
        `every node to run ${mode}`,
      );
      // A few more rounds, then every pair agrees within the measured bounds.
      await new Promise((r) => setTimeout(r, 1_500));
      await cluster.waitUntil(
        async () => {
          all = await times();
          const bound = Math.max(
            ...[...all.values()].flatMap((t) => Object.values(t.peers).map((p) => p.errorMs)),
          );
          return spread(all) <= 2 * bound + 5;
        },
        10_000,
        `the corrected clocks to agree (${mode})`,
      );
    }
    expect((await request(url).get('/clocks/sync').expect(200)).body.lastRound).not.toBeNull();

    await setSync('off');
    await cluster.waitUntil(
      async () => [...(await times()).values()].every((t) => t.correctionMs === 0),
      5_000,
      'corrections to go with sync off',
    );
    expect(spread(await times())).toBeGreaterThan(100_000);
  });

  it('loses nothing and breaks no timer when clocks step back an hour and forward a day mid-traffic', async () => {
    const acknowledged: ChatMessage[] = [];
    const senders = cluster.ids.map(async (id, i) => {
      for (let k = 0; k < 40; k++) {
        const reply = await request(url)
          .post(`/nodes/${id}/messages`)
          .send({ text: `m${i}-${k}` });
        if (reply.status === 201) acknowledged.push(reply.body as ChatMessage);
        if (k === 10 && id === 'n1') await setClock('n1', { offsetMs: -3_600_000 });
        if (k === 20 && id === 'n2') await setClock('n2', { offsetMs: 86_400_000 });
        if (k === 30 && id === 'n0') await setClock('n0', { offsetMs: -60_000, driftPpm: -1_000 });
      }
    });
    await Promise.all(senders);
    expect(acknowledged.length).toBe(120);
    const logs = await cluster.converge(acknowledged.length);
    expectCausalAndComplete(logs, acknowledged);

    // The HLC's guarantee over every delivered pair, in the test and in the gateway's check.
    const checker = new HlcChecker();
    for (const [id, log] of logs)
      checker.add(
        id,
        log.map((m) => ({ ...m, clock: VectorClock.of(m.clock) })),
      );
    expect(checker.report().violations).toEqual([]);
    expect(checker.report().checked).toBeGreaterThanOrEqual(120);
    const report = await request(url).get('/cluster/consistency').set(auth).expect(200);
    expect(report.body).toMatchObject({ ok: true, violations: [], hlc: { violations: [] } });

    // HLC stays with the largest clock, not the stepped-back one: n1's messages after its step
    // are stamped near true time + 1 day (what n2 showed), never an hour in the past.
    const n1Last = logs
      .get('n0')!
      .filter((m) => m.sender === 'n1')
      .at(-1)!;
    expect(n1Last.hlc!.wallMs).toBeGreaterThan(
      Date.parse(n1Last.trueSentAt ?? n1Last.sentAt) - 1_000,
    );

    // Timers ran on monotonic time: heartbeats kept every peer reachable throughout.
    for (const id of cluster.ids) {
      const state = await cluster.state(id);
      expect(state.peers.every((p) => p.reachable)).toBe(true);
    }
    const reset = await request(url).delete('/clocks').set(auth).expect(200);
    for (const c of reset.body.clocks) expect(c).toMatchObject({ offsetMs: 0, driftPpm: 0 });
  });

  it('refuses bad clock settings naming the field and limit; unknown nodes 404; operators only', async () => {
    const far = await request(url)
      .put('/clocks/n0')
      .set(auth)
      .send({ offsetMs: 7 * 24 * 3600 * 1000 + 1 })
      .expect(400);
    expect(far.body.message.join(' ')).toContain('offsetMs must not be greater than 604800000');
    const drift = await request(url)
      .put('/clocks/n0')
      .set(auth)
      .send({ driftPpm: -1001 })
      .expect(400);
    expect(drift.body.message.join(' ')).toContain('driftPpm must not be less than -1000');
    const type = await request(url).put('/clocks/n0').set(auth).send({ offsetMs: '5' }).expect(400);
    expect(type.body.message.join(' ')).toContain('offsetMs must be a number');
    const extra = await request(url).put('/clocks/n0').set(auth).send({ skew: 5 }).expect(400);
    expect(extra.body.message.join(' ')).toContain('property skew should not exist');
    const mode = await request(url).put('/clocks/sync').set(auth).send({ mode: 'ntp' }).expect(400);
    expect(mode.body.message.join(' ')).toContain('off, berkeley, cristian');
    const unknown = await request(url)
      .put('/clocks/n9')
      .set(auth)
      .send({ offsetMs: 1 })
      .expect(404);
    expect(unknown.body.message).toContain('unknown node "n9"');
    await request(url).put('/clocks/n0').send({ offsetMs: 1 }).expect(401);
    await request(url).put('/clocks/sync').send({ mode: 'off' }).expect(401);
    await request(url).delete('/clocks').set('Authorization', 'Bearer wrong').expect(403);
    // Reading clocks is for everyone, like the link settings.
    await request(url).get('/clocks').expect(200);
    await request(url).get('/clocks/sync').expect(200);
    // Nothing above changed a clock.
    expect((await cluster.state('n0')).time.offsetMs).toBe(0);
  });
});
