import request from 'supertest';
import { ChatMessage, Flight, InboxView } from '@app/contracts';
import { expectCausalAndComplete, TestCluster } from './support/cluster';

const TOKEN = 'inbox-test-operator-token-0123456789';
const auth = { Authorization: `Bearer ${TOKEN}` };

/**
 * A node's inbox held by hand, on real processes: paused, every copy that arrives for it is
 * parked; delivered one by one it goes through the real causal buffer and log.
 */
describe('inbox (gateway + three node processes)', () => {
  let cluster: TestCluster;
  let url: string;

  beforeAll(async () => {
    cluster = await TestCluster.start({
      env: { CHAT_LINK_DELAY_MS: '2', CHAT_LINK_JITTER_MS: '5', CHAT_INBOX_CAPACITY: '8' },
    });
    url = await cluster.startGateway({ GATEWAY_ADMIN_TOKEN: TOKEN });
  });
  afterAll(() => cluster.stop());

  const inbox = async (id: string) =>
    (await request(url).get(`/nodes/${id}/inbox`).expect(200)).body as InboxView;
  const pause = (id: string, paused: boolean, extra: object = {}) =>
    request(url)
      .put(`/nodes/${id}/inbox`)
      .set(auth)
      .send({ paused, ...extra })
      .expect(200);
  const act = (id: string, flightId: string, action: string) =>
    request(url).post(`/nodes/${id}/inbox/${flightId}`).set(auth).send({ action });
  const send = async (id: string, text: string, replyTo?: string) =>
    (
      await request(url)
        .post(`/nodes/${id}/messages`)
        .send(replyTo ? { text, replyTo } : { text })
        .expect(201)
    ).body as ChatMessage;
  const parkedAt = async (id: string, count: number) => {
    let view!: InboxView;
    await cluster.waitUntil(
      async () => (view = await inbox(id)).inFlight.length >= count,
      10_000,
      `${count} copies parked at ${id}`,
    );
    return view;
  };
  const deliveredIds = async (id: string) => (await cluster.history(id)).map((m) => m.id);

  it('parks everything for a paused node and lets a person deliver it in any order, through the real buffer', async () => {
    const paused = await pause('n2', true);
    expect(paused.body).toMatchObject({
      nodeId: 'n2',
      paused: true,
      pausedBy: 'operator',
      inFlight: [],
    });
    const before = await deliveredIds('n2');

    // A causal chain (n0, n1 after delivering it, n0 again) and two concurrent messages.
    const a = await send('n0', 'chain 1');
    const b = await send('n1', 'chain 2', a.id);
    const c = await send('n0', 'chain 3', b.id);
    const [d, e] = await Promise.all([send('n0', 'concurrent x'), send('n1', 'concurrent y')]);
    const view = await parkedAt('n2', 5);
    expect(view.inFlight.map((f) => f.message.id).sort()).toEqual(
      [a, b, c, d, e].map((m) => m.id).sort(),
    );
    for (const f of view.inFlight) {
      expect(f.kind).toBe('message');
      expect(f.message.clock).toEqual(expect.any(Object));
      expect(f.from).toBe(f.message.sender);
    }
    // Nothing reached the buffer or the log behind the person's back, not even by repair.
    await new Promise((r) => setTimeout(r, 800));
    expect(await deliveredIds('n2')).toEqual(before);
    expect((await cluster.state('n2')).buffered).toEqual([]);
    // A paused node still answers and originates.
    const own = await send('n2', 'still talking');
    expect((await deliveredIds('n2')).at(-1)).toBe(own.id);

    // Reverse arrival order.
    const flights = [...(await inbox('n2')).inFlight].reverse();
    const outcomes: Record<string, { outcome: string; delivered: string[]; waitingFor?: unknown }> =
      {};
    for (const f of flights) {
      const answer = await act('n2', f.flightId, 'deliver').expect(200);
      outcomes[f.message.id] = answer.body;
    }
    // What each answer says follows from the causal order, whatever the arrival order was.
    const byId = (m: ChatMessage) => outcomes[m.id];
    const order = flights.map((f) => f.message.id);
    const pos = (m: ChatMessage) => order.indexOf(m.id);
    // c needs b, b needs a: whichever of them came first waits.
    if (pos(c) < pos(b)) {
      expect(byId(c)).toMatchObject({ outcome: 'held-back', delivered: [] });
      expect(byId(c).waitingFor).toEqual(
        expect.arrayContaining([expect.objectContaining({ node: 'n1' })]),
      );
    }
    if (pos(b) < pos(a)) {
      expect(byId(b)).toMatchObject({ outcome: 'held-back', delivered: [] });
      expect(byId(b).waitingFor).toEqual([{ node: 'n0', seq: a.seq }]);
    }
    // Delivering a releases what waited for it, in causal order, and says so.
    expect(byId(a).outcome).toBe('delivered');
    expect(byId(a).delivered[0]).toBe(a.id);
    const all = Object.values(outcomes).flatMap((o) => o.delivered);
    expect(all.sort()).toEqual([a, b, c, d, e].map((m) => m.id).sort());

    expect((await inbox('n2')).inFlight).toEqual([]);
    await pause('n2', false);
    const logs = await cluster.converge(0);
    expectCausalAndComplete(logs, [a, b, c, d, e, own]);
    // Resuming delivered nothing twice.
    const n2 = logs.get('n2')!.map((m) => m.id);
    expect(new Set(n2).size).toBe(n2.length);
  });

  it('drops a copy that repair then fetches again (parked as repair), and drops a duplicate at delivery', async () => {
    await pause('n2', true);
    const m = await send('n0', 'to be dropped');
    const [flight] = (await parkedAt('n2', 1)).inFlight;
    await act('n2', flight.flightId, 'drop').expect(200);
    await act('n2', flight.flightId, 'drop').expect(409);
    // A later message from n0 reveals the gap; repair fetches it, and the fetch is parked too.
    const next = await send('n0', 'after the dropped one');
    let repaired: Flight | undefined;
    await cluster.waitUntil(
      async () =>
        (repaired = (await inbox('n2')).inFlight.find(
          (f) => f.message.id === m.id && f.kind === 'repair',
        )) !== undefined,
      10_000,
      'the dropped message to come back through repair',
    );
    const copy = await act('n2', repaired!.flightId, 'duplicate').expect(200);
    expect(copy.body.copy).toMatch(/^f\d+$/);
    const tray = (await inbox('n2')).inFlight;
    expect(tray.find((f) => f.flightId === copy.body.copy)).toMatchObject({
      kind: 'duplicate',
      message: { id: m.id },
    });
    expect((await act('n2', repaired!.flightId, 'deliver').expect(200)).body.outcome).toBe(
      'delivered',
    );
    expect((await act('n2', copy.body.copy, 'deliver').expect(200)).body).toMatchObject({
      outcome: 'duplicate-dropped',
      delivered: [],
    });
    await pause('n2', false);
    const logs = await cluster.converge(0);
    expectCausalAndComplete(logs, [m, next]);
  });

  it('refuses copies past its capacity (counted), and loses nothing when killed with a full tray', async () => {
    await pause('n1', true);
    const sent = [];
    for (let i = 0; i < 12; i++) sent.push(await send(i % 2 ? 'n0' : 'n2', `tray ${i}`));
    // Eight parked, the rest refused and counted; repair keeps asking for them, and they are
    // refused again while the tray is full — never parked twice, never lost.
    let view!: InboxView;
    await cluster.waitUntil(
      async () => (view = await inbox('n1')).inFlight.length === 8 && view.overflow >= 4,
      10_000,
      'a full tray at n1',
    );
    expect(view.capacity).toBe(8);
    expect((await cluster.state('n1')).counters.inboxOverflow).toBeGreaterThanOrEqual(4);
    await new Promise((r) => setTimeout(r, 500));
    expect((await inbox('n1')).inFlight).toHaveLength(8);
    await cluster.kill('n1');
    await cluster.startNode('n1');
    // The tray was memory: the restarted node is not paused, and repair brings everything.
    expect((await inbox('n1')).paused).toBe(false);
    const logs = await cluster.converge(0);
    expectCausalAndComplete(logs, sent);
  });

  it('pauses by itself on the first message it has to hold back (breakOn: hold-back)', async () => {
    await request(url).put('/nodes/n2/inbox').set(auth).send({ breakOn: 'hold-back' }).expect(200);
    // n0 -> n2 slow: n1's reply reaches n2 before its cause.
    await request(url)
      .put('/network/links/n0/n2')
      .set(auth)
      .send({ delayMs: 1_500, jitterMs: 0 })
      .expect(200);
    const question = await send('n0', 'slow question');
    await cluster.waitUntil(
      async () => (await deliveredIds('n1')).includes(question.id),
      10_000,
      'n1 to deliver the question',
    );
    const answer = await send('n1', 'fast answer', question.id);
    let view!: InboxView;
    await cluster.waitUntil(
      async () => (view = await inbox('n2')).paused,
      10_000,
      'the breakpoint to pause n2',
    );
    expect(view.pausedBy).toBe('hold-back');
    const state = await cluster.state('n2');
    expect(state.buffered.map((h) => [h.message.id, h.waitingFor])).toEqual([
      [answer.id, [{ node: 'n0', seq: question.seq }]],
    ]);
    // The question arrives later and is parked, not delivered behind the person's back.
    const parked = await parkedAt('n2', 1);
    expect(parked.inFlight[0].message.id).toBe(question.id);
    const release = await act('n2', parked.inFlight[0].flightId, 'deliver').expect(200);
    expect(release.body).toMatchObject({
      outcome: 'delivered',
      delivered: [question.id, answer.id],
    });
    await request(url).put('/network/links/n0/n2').set(auth).send({ delayMs: 2, jitterMs: 5 });
    await pause('n2', false, { breakOn: 'none' });
  });

  it('refuses bad input: unknown node or flight 404, bad action or setting 400, operators only', async () => {
    await request(url).get('/nodes/n9/inbox').expect(404);
    const noFlight = await act('n0', 'f999999', 'deliver').expect(404);
    expect(noFlight.body.message).toContain('no flight f999999');
    const bad = await act('n0', 'f1', 'teleport').expect(400);
    expect(bad.body.message.join(' ')).toContain('action must be one of the following values');
    const setting = await request(url)
      .put('/nodes/n0/inbox')
      .set(auth)
      .send({ paused: 'yes' })
      .expect(400);
    expect(setting.body.message.join(' ')).toContain('paused must be a boolean');
    await request(url).put('/nodes/n0/inbox').set(auth).send({ breakOn: 'always' }).expect(400);
    await request(url).put('/nodes/n0/inbox').send({ paused: true }).expect(401);
    await request(url)
      .post('/nodes/n0/inbox/f1')
      .set('Authorization', 'Bearer wrong')
      .send({ action: 'deliver' })
      .expect(403);
    expect((await inbox('n0')).paused).toBe(false);
  });
});
