import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { ChatMessage, ensureClusterKeys } from '@app/contracts';
import { GATEWAY_MAIN, NODE_MAIN, ROOT } from './support/cluster';
import { freePortBlock } from './support/ports';

/**
 * Each node is its own host: a network namespace with its own address on a bridge, the
 * gateway on the host side. Cutting a node's veth is a real link failure, not a simulation.
 */
const canUseNetns = (() => {
  if (process.getuid?.() !== 0) return 'not root';
  const probe = spawnSync('ip', ['netns', 'list']);
  return probe.status === 0 ? true : `ip netns is unavailable: ${probe.stderr}`;
})();
const maybe = canUseNetns === true ? describe : describe.skip;
if (canUseNetns !== true) process.stderr.write(`netns test skipped: ${canUseNetns}\n`);

const tag = `cc${process.pid % 10000}`;
const subnet = `10.${200 + (process.pid % 50)}.${process.pid % 250}`;
const bridge = `${tag}br`;
const ids = ['n0', 'n1', 'n2'];
const ns = (id: string) => `${tag}-${id}`;
const hostVeth = (id: string) => `${tag}h${id}`;
const address = (i: number) => `${subnet}.${10 + i}`;
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

maybe('nodes as separate hosts (network namespaces, real link cut)', () => {
  const processes: ChildProcess[] = [];
  let dataDir: string;
  let keysDir: string;
  let url: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'netns-'));
    // CURVE on the links between the hosts, as a deployment runs it.
    keysDir = join(dataDir, 'keys');
    ensureClusterKeys(keysDir, [...ids, 'gateway']);
    ip('link', 'add', bridge, 'type', 'bridge');
    ip('addr', 'add', `${subnet}.1/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    const members = ids.map((id, i) => `${id}=${address(i)}:7100`).join(',');
    ids.forEach((id, i) => {
      ip('netns', 'add', ns(id));
      ip('link', 'add', hostVeth(id), 'type', 'veth', 'peer', 'name', `${tag}p${id}`);
      ip('link', 'set', `${tag}p${id}`, 'netns', ns(id));
      ip('link', 'set', hostVeth(id), 'master', bridge);
      ip('link', 'set', hostVeth(id), 'up');
      ip('netns', 'exec', ns(id), 'ip', 'link', 'set', 'lo', 'up');
      ip('netns', 'exec', ns(id), 'ip', 'addr', 'add', `${address(i)}/24`, 'dev', `${tag}p${id}`);
      ip('netns', 'exec', ns(id), 'ip', 'link', 'set', `${tag}p${id}`, 'up');
      const child = spawn('ip', ['netns', 'exec', ns(id), process.execPath, NODE_MAIN], {
        env: {
          ...process.env,
          CHAT_NODE_ID: id,
          CHAT_MEMBERS: members,
          CHAT_BIND_HOST: '0.0.0.0',
          DATA_DIR: dataDir,
          CHAT_KEYS_DIR: keysDir,
          CHAT_LINK_DELAY_MS: '0',
          CHAT_LINK_JITTER_MS: '0',
          CHAT_HEARTBEAT_MS: '150',
          CHAT_REPAIR_MS: '100',
        },
        stdio: 'ignore',
      });
      processes.push(child);
    });
    const port = await freePortBlock(1);
    processes.push(
      spawn(process.execPath, [GATEWAY_MAIN], {
        env: {
          ...process.env,
          CHAT_MEMBERS: members,
          CHAT_KEYS_DIR: keysDir,
          PORT: String(port),
          GATEWAY_RATE_LIMIT: '0',
        },
        stdio: 'ignore',
      }),
    );
    url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 150; i++) {
      const health = await request(url)
        .get('/health')
        .catch(() => undefined);
      if (health?.status === 200) return;
      await sleep(100);
    }
    throw new Error('the cluster in network namespaces did not become healthy');
  });

  afterAll(async () => {
    for (const child of processes) if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.all(processes.map((c) => (c.exitCode === null ? once(c, 'exit') : null)));
    for (const id of ids) spawnSync('ip', ['netns', 'del', ns(id)]);
    spawnSync('ip', ['link', 'del', bridge]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps both sides of a cut link working and converges in causal order when it is restored', async () => {
    const acked: ChatMessage[] = [];
    for (let i = 0; i < 5; i++)
      acked.push(
        (
          await request(url)
            .post(`/nodes/n${i % 3}/messages`)
            .send({ text: `before ${i}` })
            .expect(201)
        ).body,
      );

    ip('link', 'set', hostVeth('n2'), 'down');
    await sleep(600);
    const nodes = await request(url).get('/nodes').expect(200);
    expect(nodes.body.find((n: { id: string }) => n.id === 'n2').up).toBe(false);
    for (let i = 0; i < 10; i++)
      acked.push(
        (
          await request(url)
            .post(`/nodes/n${i % 2}/messages`)
            .send({ text: `majority ${i}` })
            .expect(201)
        ).body,
      );
    // The other side of the cut: n2 keeps accepting messages from a client inside its own host.
    const inside = spawnSync(
      'ip',
      [
        'netns',
        'exec',
        ns('n2'),
        process.execPath,
        join(ROOT, 'test/fixtures/netns-send.js'),
        'tcp://127.0.0.1:7100',
        'minority',
        '5',
        keysDir,
        'gateway',
        'n2',
      ],
      {
        encoding: 'utf8',
      },
    );
    expect(inside.stderr).toBe('');
    acked.push(...(JSON.parse(inside.stdout) as ChatMessage[]));

    ip('link', 'set', hostVeth('n2'), 'up');
    const deadline = Date.now() + 30_000;
    let lastIndexes: number[] = [];
    while (Date.now() < deadline) {
      const list = (await request(url).get('/nodes')).body as {
        up: boolean;
        lastIndex?: number;
        buffered?: number;
      }[];
      lastIndexes = list.map((n) => n.lastIndex ?? -1);
      if (list.every((n) => n.up && n.lastIndex === acked.length && n.buffered === 0)) break;
      await sleep(200);
    }
    expect(lastIndexes).toEqual([acked.length, acked.length, acked.length]);
    const consistency = await request(url).get('/cluster/consistency').expect(200);
    expect(consistency.body).toMatchObject({
      ok: true,
      violations: [],
      counts: { n0: 20, n1: 20, n2: 20 },
    });
  });
});
