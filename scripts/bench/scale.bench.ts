/**
 * npm run bench:scale [-- --sizes 10000,100000,1000000 --catch-up 100000] — how the cost
 * grows with the work.
 *
 * History size: a node's data file with N delivered messages, written through the node's
 * own storage code (MessageLog, in batches, as a busy node commits them) rather than sent
 * over REST; then a real node process starts on it: time until it answers, its RSS, and the
 * p99 of a history page at the start, middle and end of the log.
 *
 * Catch-up: three nodes (CURVE on), one of them down while the other two take `--catch-up`
 * messages; then it starts: time until it has them all, its peak RSS, and what serving it
 * cost the others in CPU per message.
 *
 * Cluster size: 3, 5, 8 and 12 nodes (`--nodes`), messages/s delivered at all of them and
 * each node's CPU per delivered message.
 *
 * The page: bench:ui at `--ui` messages (default 100,000; 0 skips it), run as a child
 * process, its figures folded in. The last line is one JSON object of the figures.
 */
import { ChildProcess, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VectorClock } from '@app/causal';
import { HistoryPage, localMembers, NodeState, Requests } from '@app/contracts';
import { LogWrite, MessageLog } from '../../apps/chat-node/src/storage/message-log';
import {
  arg,
  benchKeys,
  cpuMs,
  fmt,
  LeanRequester,
  originateAll,
  percentile,
  ROOT,
  rssMB,
  spawnGateway,
  spawnNode,
  stop,
  watchPeakRss,
} from './bench-util';

const SIZES = (arg('sizes') ?? '10000,100000,1000000').split(',').filter(Boolean).map(Number);
const CATCH_UP = Number(arg('catch-up') ?? 100_000);
const NODE_COUNTS = (arg('nodes') ?? '3,5,8,12').split(',').filter(Boolean).map(Number);
const UI_MESSAGES = Number(arg('ui') ?? 100_000);
/** Messages timed per cluster size (after half as many to warm up). */
const CLUSTER_MESSAGES = 12_000;
const HISTORY_SAMPLES = 200;
const progress = (text: string) => process.stderr.write(`[bench:scale] ${text}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const IDS = ['n0', 'n1', 'n2'];

/**
 * Writes `count` deliveries into `node`'s data file, round-robin from three senders, causally
 * ordered. Every node gets the same sequence, so the three logs agree as a real cluster's would.
 */
function buildLog(dataDir: string, node: string, count: number): number {
  const log = new MessageLog(dataDir, node, 'normal');
  const seqs: Record<string, number> = { n0: 0, n1: 0, n2: 0 };
  const sentAt = new Date().toISOString();
  // One commit per millisecond of the recent past, stamped as a node stamps its commits.
  const firstAt = Date.now() - Math.ceil(count / 1000) - 1000;
  for (let index = 1; index <= count;) {
    const writes: LogWrite[] = [];
    for (let k = 0; k < 1000 && index <= count; k++, index++) {
      const sender = IDS[index % 3];
      seqs[sender]++;
      const seq = seqs[sender];
      writes.push({
        delivery: {
          index,
          deliveredAt: sentAt,
          message: {
            id: `${sender}:${seq}`,
            sender,
            seq,
            clock: VectorClock.of({ ...seqs }),
            text: `message ${index} from ${sender}: a line of chat of an ordinary length`,
            sentAt,
            trace: { [sender]: seq },
          },
        },
        events: [{ clock: { [node]: index }, kind: 'deliver', detail: `${sender}:${seq}` }],
      });
    }
    const at = firstAt + Math.ceil(index / 1000);
    log.write(writes, { hlc: { wallMs: at, logical: 0 }, at, local: at });
  }
  log.close();
  return statSync(join(dataDir, `${node}.sqlite`)).size;
}

async function until(what: string, ms: number, condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

interface SizeFigures {
  size: number;
  startupMs: number;
  rssMB: number;
  historyP99ms: { start: number; middle: number; end: number };
  fileMB: number;
  /** GET /cluster/consistency over three nodes with `size` messages each. */
  consistencyMs: number;
  consistencyGatewayRssMB: number;
  /** GET /cluster/run over the same three logs (at most RUN_LIMIT events), streamed. */
  run: {
    events: number;
    megabytes: number;
    seconds: number;
    gatewayPeakRssMB: number;
    nodePeakRssMB: number;
  };
}

/** The most events a run answer holds (the gateway's maximum). */
const RUN_LIMIT = 1_000_000;

/** Streams GET /cluster/run and counts its bytes and events without keeping it. */
async function streamRun(url: string) {
  const started = performance.now();
  const response = await fetch(`${url}/cluster/run?from=0&limit=${RUN_LIMIT}`);
  if (!response.ok || !response.body) throw new Error(`GET /cluster/run: ${response.status}`);
  let bytes = 0;
  let tail = '';
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    bytes += chunk.length;
    tail = (tail + Buffer.from(chunk).toString('utf8')).slice(-200);
  }
  const count = /"count":(\d+)/.exec(tail);
  if (!count) throw new Error(`GET /cluster/run ended without its count: …${tail}`);
  return { events: Number(count[1]), bytes, seconds: (performance.now() - started) / 1000 };
}

async function historySize(size: number): Promise<SizeFigures> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-scale-'));
  progress(`writing ${fmt(size)} messages into three data files`);
  const bytes = buildLog(dataDir, 'n0', size);
  buildLog(dataDir, 'n1', size);
  buildLog(dataDir, 'n2', size);
  const base = 31_000 + Math.floor(Math.random() * 500) * 10;
  const keys = benchKeys(dataDir, IDS);
  const started = performance.now();
  const members = localMembers(3, base);
  const node = spawnNode('n0', members, dataDir, 'inherit-errors', keys.dir);
  const client = new LeanRequester(`tcp://127.0.0.1:${base}`, keys.toNode('n0'));
  await client.request<NodeState>(Requests.state, {});
  const startupMs = performance.now() - started;
  await sleep(1000);
  const rss = rssMB(node.pid!);
  const page = async (after: number) => {
    const samples: number[] = [];
    for (let i = 0; i < HISTORY_SAMPLES; i++) {
      const t0 = performance.now();
      const reply = await client.request<HistoryPage>(Requests.history, { after, limit: 100 });
      samples.push(performance.now() - t0);
      if (reply.messages.length !== 100) throw new Error(`history page after ${after} was short`);
    }
    return percentile(
      samples.sort((a, b) => a - b),
      99,
    );
  };
  const historyP99ms = {
    start: await page(0),
    middle: await page(Math.floor(size / 2)),
    end: await page(size - 100),
  };
  await client.close();

  // The whole-cluster check reads every node's whole log: the one path here that must grow.
  const others = ['n1', 'n2'].map((id) =>
    spawnNode(id, members, dataDir, 'inherit-errors', keys.dir),
  );
  const port = 36_000 + Math.floor(Math.random() * 1000);
  const gateway = spawnGateway(members, port, keys.dir);
  const url = `http://127.0.0.1:${port}`;
  await until('the gateway to see three nodes up', 120_000, async () => {
    const health = await fetch(`${url}/health`).then(
      (r) => r.json() as Promise<{ info?: Record<string, unknown> }>,
      () => undefined,
    );
    return Object.keys(health?.info ?? {}).filter((k) => /^n\d$/.test(k)).length === 3;
  });
  const peak = watchPeakRss([gateway.pid!], 100);
  const checkStarted = performance.now();
  const report = (await (await fetch(`${url}/cluster/consistency`)).json()) as {
    ok: boolean;
    counts: Record<string, number>;
    verdict: string;
  };
  const consistencyMs = performance.now() - checkStarted;
  const [consistencyGatewayRssMB] = peak();
  if (!report.ok || Object.values(report.counts).some((n) => n !== size))
    throw new Error(`consistency over ${size} messages: ${JSON.stringify(report).slice(0, 300)}`);
  progress(`streaming the run of ${fmt(size)} messages at three nodes`);
  const runPeak = watchPeakRss([gateway.pid!, node.pid!, ...others.map((o) => o.pid!)], 100);
  const streamed = await streamRun(url);
  const [gatewayPeakRssMB, ...nodePeaks] = runPeak();
  const run = {
    events: streamed.events,
    megabytes: streamed.bytes / 2 ** 20,
    seconds: streamed.seconds,
    gatewayPeakRssMB,
    nodePeakRssMB: Math.max(...nodePeaks),
  };
  await Promise.all([node, ...others, gateway].map(stop));
  rmSync(dataDir, { recursive: true, force: true });
  return {
    size,
    startupMs,
    rssMB: rss,
    historyP99ms,
    fileMB: bytes / 2 ** 20,
    consistencyMs,
    consistencyGatewayRssMB,
    run,
  };
}

interface CatchUp {
  perSec: number;
  seconds: number;
  rssMB: number;
  serverCpuUsPerMsg: number[];
  /** The caught-up node's data file, by table and index: what a message really costs on disk. */
  disk: { bytesPerMessage: number; byTable: Record<string, number> };
}

/** Bytes per message of a node's data file, in all and per table or index (SQLite's dbstat). */
function diskUse(file: string, messages: number): CatchUp['disk'] {
  const db = new Database(file, { readonly: true });
  try {
    const rows = db
      .prepare<[], { name: string; bytes: number }>(
        `SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC`,
      )
      .all();
    return {
      bytesPerMessage: Math.round(rows.reduce((sum, row) => sum + row.bytes, 0) / messages),
      byTable: Object.fromEntries(rows.map((row) => [row.name, Math.round(row.bytes / messages)])),
    };
  } finally {
    db.close();
  }
}

async function catchUp(total: number): Promise<CatchUp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-catch-up-'));
  const base = 33_000 + Math.floor(Math.random() * 500) * 10;
  const members = localMembers(3, base);
  const keys = benchKeys(dataDir, IDS);
  const children: ChildProcess[] = IDS.slice(0, 2).map((id) =>
    spawnNode(id, members, dataDir, 'inherit-errors', keys.dir),
  );
  const clients = IDS.map(
    (id, i) => new LeanRequester(`tcp://127.0.0.1:${base + 10 * i}`, keys.toNode(id)),
  );
  const state = (i: number) => clients[i].request<NodeState>(Requests.state, {});
  await Promise.all([state(0), state(1)]);
  progress(`n2 down; n0 and n1 take ${fmt(total)} messages`);
  await originateAll(clients.slice(0, 2), total, 'while n2 is down', 256);
  progress('starting n2');
  const cpuBefore = children.map((c) => cpuMs(c.pid!));
  const started = performance.now();
  children.push(spawnNode('n2', members, dataDir, 'inherit-errors', keys.dir));
  const peak = watchPeakRss([children[2].pid!]);
  await until('n2 to catch up', 600_000, async () => (await state(2)).lastIndex >= total);
  const seconds = (performance.now() - started) / 1000;
  const serverCpuUsPerMsg = children
    .slice(0, 2)
    .map((c, i) => Math.round(((cpuMs(c.pid!) - cpuBefore[i]) * 1000) / total));
  const [rss] = peak();
  for (const client of clients) await client.close();
  await Promise.all(children.map(stop));
  // n0's file: its own half sent, the other half received, every message delivered.
  const disk = diskUse(join(dataDir, 'n0.sqlite'), total);
  rmSync(dataDir, { recursive: true, force: true });
  return { perSec: total / seconds, seconds, rssMB: rss, serverCpuUsPerMsg, disk };
}

interface BySize {
  perSec: number;
  /** CPU µs per delivered message, the mean over the nodes. */
  cpuUs: number;
}

/**
 * N nodes (CURVE on) delivering at all of them: messages/s and each node's CPU per delivered
 * message. Each message reaches every node, and its clock has N entries, so per-node cost may
 * grow with N; throughput on these two cores falls at least as 1/N.
 */
async function clusterOf(nodes: number): Promise<BySize> {
  const dataDir = mkdtempSync(join(tmpdir(), `bench-scale-${nodes}-`));
  const base = 23_000 + Math.floor(Math.random() * 200) * 50;
  const ids = Array.from({ length: nodes }, (_, i) => `n${i}`);
  const members = localMembers(nodes, base);
  const keys = benchKeys(dataDir, ids);
  const children = ids.map((id) => spawnNode(id, members, dataDir, 'inherit-errors', keys.dir));
  const clients = ids.map(
    (id, i) => new LeanRequester(`tcp://127.0.0.1:${base + 10 * i}`, keys.toNode(id)),
  );
  await Promise.all(clients.map((client) => client.request(Requests.state, {})));
  await sleep(1500); // every node hears the others before the clock starts
  const total = Math.round(CLUSTER_MESSAGES / nodes) * nodes;
  await originateAll(clients, total / 2, 'warm-up', 64);
  const before = children.map((c) => cpuMs(c.pid!));
  const started = performance.now();
  await originateAll(clients, total, 'timed', 64);
  const seconds = (performance.now() - started) / 1000;
  const cpu = children.map((c, i) => cpuMs(c.pid!) - before[i]);
  for (const client of clients) await client.close();
  await Promise.all(children.map(stop));
  rmSync(dataDir, { recursive: true, force: true });
  const cpuUs = (cpu.reduce((a, b) => a + b, 0) * 1000) / nodes / total;
  progress(`${nodes} nodes: ${fmt(total / seconds)} msg/s, ${fmt(cpuUs)} µs per node per message`);
  return { perSec: total / seconds, cpuUs };
}

interface UiFigures {
  text: string;
  uiReadyMs: number;
  uiLongestIdleTaskMs: number;
  uiSendToAllMs: number;
}

/** bench:ui in its own process (it drives Chromium), its table and figures. */
function theUi(messages: number): UiFigures {
  progress(`bench:ui with ${fmt(messages)} messages`);
  const result = spawnSync(
    process.execPath,
    [
      '-r',
      'ts-node/register/transpile-only',
      '-r',
      'tsconfig-paths/register',
      join(ROOT, 'scripts/bench/ui.bench.ts'),
      '--messages',
      String(messages),
    ],
    { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 1_800_000 },
  );
  if (result.status !== 0) throw new Error(`bench:ui failed (${result.status}):\n${result.stdout}`);
  const lines = result.stdout.trim().split('\n');
  return {
    text: lines.slice(0, -1).join('\n'),
    ...(JSON.parse(lines[lines.length - 1]) as Omit<UiFigures, 'text'>),
  };
}

async function main(): Promise<void> {
  const sizes: SizeFigures[] = [];
  for (const size of SIZES) sizes.push(await historySize(size));
  const caught = CATCH_UP > 0 ? await catchUp(CATCH_UP) : undefined;
  const byNodes: Record<string, BySize> = {};
  for (const nodes of NODE_COUNTS) byNodes[nodes] = await clusterOf(nodes);
  const ui = UI_MESSAGES > 0 ? theUi(UI_MESSAGES) : undefined;

  const label = (size: number) => (size >= 1e6 ? `${size / 1e6}M` : `${size / 1e3}k`);
  process.stdout.write('History size: one node on a data file of N messages\n');
  process.stdout.write(
    '| messages | start-up | RSS after start | history p99 start / middle / end | file | /cluster/consistency (3 logs) | gateway peak RSS in it |\n|---:|---:|---:|---|---:|---:|---:|\n',
  );
  for (const s of sizes)
    process.stdout.write(
      `| ${fmt(s.size)} | ${fmt(s.startupMs)} ms | ${fmt(s.rssMB)} MB | ${fmt(s.historyP99ms.start, 2)} / ${fmt(s.historyP99ms.middle, 2)} / ${fmt(s.historyP99ms.end, 2)} ms | ${fmt(s.fileMB, 1)} MB (${fmt((s.fileMB * 2 ** 20) / s.size)} B/message) | ${fmt(s.consistencyMs)} ms | ${fmt(s.consistencyGatewayRssMB)} MB |\n`,
    );
  process.stdout.write(
    'The run (GET /cluster/run, from=0, streamed) over the same three logs\n| messages | events | size | time | rate | gateway peak RSS | node peak RSS |\n|---:|---:|---:|---:|---:|---:|---:|\n',
  );
  for (const s of sizes)
    process.stdout.write(
      `| ${fmt(s.size)} | ${fmt(s.run.events)} | ${fmt(s.run.megabytes, 1)} MB | ${fmt(s.run.seconds, 1)} s | ${fmt(s.run.megabytes / s.run.seconds, 1)} MB/s | ${fmt(s.run.gatewayPeakRssMB)} MB | ${fmt(s.run.nodePeakRssMB)} MB |\n`,
    );
  if (caught)
    process.stdout.write(
      `On disk, a node of a real cluster (n0 after the catch-up run): ${caught.disk.bytesPerMessage} bytes per message — ${Object.entries(
        caught.disk.byTable,
      )
        .map(([name, bytes]) => `${name} ${bytes}`)
        .join(', ')}\n` +
        `Catch-up: a node back after ${fmt(CATCH_UP)} messages had it all in ${fmt(caught.seconds, 1)} s = ${fmt(caught.perSec)} msg/s (target >= 20,000), peak RSS ${fmt(caught.rssMB)} MB; serving it cost n0, n1 ${caught.serverCpuUsPerMsg.map((us) => `${us} µs`).join(', ')} of CPU per message\n`,
    );
  if (NODE_COUNTS.length > 0) {
    process.stdout.write(
      'Cluster size (CURVE on, 64 in flight per node)\n| nodes | delivered at all / s | CPU per node per delivered message |\n|---:|---:|---:|\n',
    );
    for (const [nodes, figures] of Object.entries(byNodes))
      process.stdout.write(`| ${nodes} | ${fmt(figures.perSec)} | ${fmt(figures.cpuUs)} µs |\n`);
  }
  if (ui) process.stdout.write(`${ui.text}\n`);
  const last = sizes[sizes.length - 1];
  process.stdout.write(
    `${JSON.stringify({
      startupMs: Object.fromEntries(sizes.map((s) => [label(s.size), Math.round(s.startupMs)])),
      rssMB: Object.fromEntries(sizes.map((s) => [label(s.size), Math.round(s.rssMB)])),
      run: Object.fromEntries(
        sizes.map((s) => [
          label(s.size),
          {
            events: s.run.events,
            mbPerSec: Math.round((s.run.megabytes / s.run.seconds) * 10) / 10,
            gatewayPeakRssMB: s.run.gatewayPeakRssMB,
            nodePeakRssMB: s.run.nodePeakRssMB,
          },
        ]),
      ),
      consistencyMs: Object.fromEntries(
        sizes.map((s) => [label(s.size), Math.round(s.consistencyMs)]),
      ),
      consistencyRssMB: Object.fromEntries(
        sizes.map((s) => [label(s.size), Math.round(s.consistencyGatewayRssMB)]),
      ),
      historyP99ms: last && {
        start: Number(last.historyP99ms.start.toFixed(2)),
        middle: Number(last.historyP99ms.middle.toFixed(2)),
        end: Number(last.historyP99ms.end.toFixed(2)),
      },
      bytesPerMessage: caught
        ? caught.disk.bytesPerMessage
        : last && Math.round((last.fileMB * 2 ** 20) / last.size),
      ...(caught
        ? { catchUpPerSec: Math.round(caught.perSec), catchUpRssMB: Math.round(caught.rssMB) }
        : {}),
      byNodes: Object.fromEntries(
        Object.entries(byNodes).map(([nodes, f]) => [
          nodes,
          { perSec: Math.round(f.perSec), cpuUs: Math.round(f.cpuUs) },
        ]),
      ),
      ...(ui
        ? {
            uiReadyMs: ui.uiReadyMs,
            uiLongestIdleTaskMs: ui.uiLongestIdleTaskMs,
            uiSendToAllMs: ui.uiSendToAllMs,
          }
        : {}),
    })}\n`,
  );
}

void main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
