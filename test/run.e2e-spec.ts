import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import request from 'supertest';
import { ChatMessage, RunEvent } from '@app/contracts';
import { ROOT, TestCluster } from './support/cluster';

interface Run {
  format: string;
  to: number;
  version: number;
  members: string[];
  events: RunEvent[];
  count: number;
  next: { from: number; to: number } | null;
  unreachable: string[];
}

/**
 * A run fetched from real processes after the seed's scenarios and faulted traffic: it
 * follows its schema, and replaying it gives every node exactly its delivered sequence and
 * final clock.
 */
describe('a run of the cluster (GET /cluster/run)', () => {
  let cluster: TestCluster;
  let url: string;
  const started = Date.now();
  const schema = JSON.parse(readFileSync(join(ROOT, 'docs/run-format.schema.json'), 'utf8'));
  const validate = new Ajv({ allErrors: true }).compile(schema);

  beforeAll(async () => {
    cluster = await TestCluster.start({
      env: { CHAT_LINK_DELAY_MS: '5', CHAT_LINK_JITTER_MS: '30' },
    });
    url = await cluster.startGateway();
  });
  afterAll(() => cluster.stop());

  const send = async (id: string, text: string, replyTo?: string) =>
    (
      await request(url)
        .post(`/nodes/${id}/messages`)
        .send(replyTo ? { text, replyTo } : { text })
        .expect(201)
    ).body as ChatMessage;

  it('reproduces every node’s delivered sequence and final clock, and follows its schema', async () => {
    // The seed's scenarios: a simple exchange, two concurrent messages, a reply racing its cause.
    const hello = await send('n0', 'Hello');
    const hi = await send('n1', 'Hi', hello.id);
    await send('n2', 'Hey both!', hi.id);
    await Promise.all([send('n0', 'First'), send('n1', 'Also first')]);
    await request(url).put('/network/links/n0/n2').send({ delayMs: 800, jitterMs: 0 }).expect(200);
    const question = await send('n0', 'Who wants lunch?');
    await send('n1', 'Me!', question.id);
    // Faults: a lossy, duplicating link, a paused inbox delivered by hand, a clock stepped.
    await request(url)
      .put('/network/links/n1/n0')
      .send({ dropRate: 0.3, duplicateRate: 0.3 })
      .expect(200);
    await request(url).put('/nodes/n2/inbox').send({ paused: true }).expect(200);
    await request(url).put('/clocks/n1').send({ offsetMs: -60_000 }).expect(200);
    for (let i = 0; i < 30; i++) await send(`n${i % 3}`, `traffic ${i}`);
    const tray = (await request(url).get('/nodes/n2/inbox').expect(200)).body;
    if (tray.inFlight.length > 0)
      await request(url)
        .post(`/nodes/n2/inbox/${tray.inFlight[0].flightId}`)
        .send({ action: 'deliver' })
        .expect(200);
    await request(url).put('/nodes/n2/inbox').send({ paused: false }).expect(200);
    await request(url).delete('/network').expect(200);
    const logs = await cluster.converge(37);

    const response = await request(url).get(`/cluster/run?from=${started}`).expect(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    const run = JSON.parse(response.text) as Run;
    if (!validate(run)) throw new Error(JSON.stringify(validate.errors?.slice(0, 5), null, 1));
    expect(run).toMatchObject({
      format: 'causal-chat-run',
      version: 1,
      next: null,
      unreachable: [],
    });
    expect(run.members).toEqual(['n0', 'n1', 'n2']);
    expect(run.count).toBe(run.events.length);
    // In time order.
    for (let i = 1; i < run.events.length; i++)
      expect(run.events[i].at).toBeGreaterThanOrEqual(run.events[i - 1].at);
    const kinds = new Set(run.events.map((e) => e.kind));
    for (const kind of [
      'send',
      'receive',
      'deliver',
      'duplicate',
      'lost',
      'link',
      'clock',
      'inbox',
    ])
      expect(kinds).toContain(kind);
    // n1's clock was a minute slow from the step on: its events say so.
    const late = run.events.filter((e) => e.node === 'n1' && e.at - e.local > 59_000);
    expect(late.length).toBeGreaterThan(0);

    // Replaying the run: each node's deliveries, in order, are its log; its clock follows.
    for (const [id, log] of logs) {
      const delivered = run.events.filter((e) => e.node === id && e.kind === 'deliver');
      expect(delivered.map((e) => e.id)).toEqual(log.map((m) => m.id));
      expect(delivered.map((e) => e.index)).toEqual(log.map((m) => m.index));
      for (const [e, m] of delivered.map((e, i) => [e, log[i]] as const)) {
        expect(e.clock).toEqual(
          Object.fromEntries(Object.entries(m.clock).filter(([, v]) => v > 0)),
        );
        expect(e.hlc).toEqual(m.hlc);
        expect(e.text).toBe(m.text);
      }
      const clock: Record<string, number> = {};
      for (const e of delivered) clock[e.sender!] = Math.max(clock[e.sender!] ?? 0, e.seq!);
      const state = await cluster.state(id);
      expect(clock).toEqual(
        Object.fromEntries(Object.entries(state.clock).filter(([, v]) => v > 0)),
      );
    }

    // Page by page (whole milliseconds), the same events once each.
    const paged: RunEvent[] = [];
    let from = started;
    for (let pages = 0; ; pages++) {
      const page = JSON.parse(
        (await request(url).get(`/cluster/run?from=${from}&to=${run.to}&limit=25`).expect(200))
          .text,
      ) as Run;
      expect(validate(page)).toBe(true);
      paged.push(...page.events);
      if (!page.next) break;
      expect(page.count).toBeGreaterThanOrEqual(25);
      from = page.next.from;
      expect(pages).toBeLessThan(200);
    }
    const key = (e: RunEvent) => JSON.stringify(e);
    expect(paged.map(key).sort()).toEqual(run.events.map(key).sort());
  });

  it('is built the same offline from the nodes’ data files (npm run run:export)', async () => {
    const to = Date.now();
    const live = JSON.parse(
      (await request(url).get(`/cluster/run?from=${started}&to=${to}`).expect(200)).text,
    ) as Run;
    // A node holds its file exclusively: the cluster stops first, as an operator would.
    for (const id of cluster.ids) await cluster.kill(id, 'SIGTERM');
    const files = cluster.ids.map((id) => join(cluster.dataDir, `${id}.sqlite`));
    const exported = spawnSync(
      process.execPath,
      [
        '-r',
        'ts-node/register/transpile-only',
        '-r',
        'tsconfig-paths/register',
        'scripts/run-export.ts',
        ...files,
        '--from',
        String(started),
        '--to',
        String(to),
      ],
      { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    );
    expect(exported.stderr).toContain('run:export:');
    expect(exported.status).toBe(0);
    const offline = JSON.parse(exported.stdout) as Run;
    if (!validate(offline)) throw new Error(JSON.stringify(validate.errors?.slice(0, 5)));
    expect(offline.members).toEqual(['n0', 'n1', 'n2']);
    const key = (e: RunEvent) => JSON.stringify(e);
    expect(offline.events.map(key)).toEqual(live.events.map(key));
    // A file that is not a node's is refused with its name.
    const bad = spawnSync(
      process.execPath,
      [
        '-r',
        'ts-node/register/transpile-only',
        '-r',
        'tsconfig-paths/register',
        'scripts/run-export.ts',
        join(ROOT, 'package.json'),
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('package.json: cannot be opened');
  });

  it('refuses a bad window naming the field', async () => {
    for (const [query, message] of [
      ['from=yesterday', 'from must be a time'],
      ['to=soon', 'to must be a time'],
      ['from=2000&to=1000', 'from (2000) must not be after to (1000)'],
      ['limit=0', 'limit must be an integer from 1 to 1000000'],
    ]) {
      const refused = await request(url).get(`/cluster/run?${query}`).expect(400);
      expect([].concat(refused.body.message).join(' ')).toContain(message);
    }
  });
});
