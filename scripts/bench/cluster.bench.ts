/**
 * npm run bench:cluster — three chat-node processes on loopback (link simulation off,
 * durable SQLite), messages originated through each node's own request socket at all three.
 * Prints sustained messages/s delivered at every node and originate -> delivered-everywhere
 * latency at a fixed rate, beside a raw zeromq.js PUB/SUB fan-out to three subscriber
 * processes measured in the same run. `--soak SECONDS` adds a long run at a moderate rate
 * that samples every node's RSS. The last line is one JSON object of the figures.
 */
import { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Publisher, Subscriber } from 'zeromq';
import {
  ChatMessage,
  DeliveredEvent,
  localMembers,
  NodeEvents,
  NodeState,
  Requests,
} from '@app/contracts';
import {
  cpuMs,
  fmt,
  LeanRequester,
  percentile,
  rssMB,
  spawnNode,
  startScript,
  stop,
  watchPeakRss,
} from './bench-util';

const NODES = 3;
const THROUGHPUT_MESSAGES = 30_000;
const WARMUP_MESSAGES = 6_000;
const IN_FLIGHT_PER_NODE = 64;
const LATENCY_RATE = 2_000;
const LATENCY_SECONDS = 5;
const RAW_MESSAGES = 200_000;
const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : undefined;
};
const progress = (text: string) => process.stderr.write(`[bench:cluster] ${text}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function rawFanOut(): Promise<number> {
  const pub = new Publisher({ linger: 0, sendHighWaterMark: 0 });
  await pub.bind('tcp://127.0.0.1:*');
  const subs = await Promise.all(
    Array.from({ length: NODES }, () =>
      startScript('scripts/bench/pubsub-subscriber.ts', [pub.lastEndpoint!, String(RAW_MESSAGES)]),
    ),
  );
  const results = subs.map(
    ({ child }) =>
      new Promise<{ count: number; seconds: number }>((resolve) => {
        let out = '';
        child.stdout!.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const line = out.split('\n').find((l) => l.startsWith('{'));
          if (line) resolve(JSON.parse(line));
        });
      }),
  );
  for (let i = 0; i < 50; i++) {
    await pub.send(['chat', JSON.stringify({ ping: i })]);
    await sleep(10);
  }
  const text = 'hello causal world, a message of ordinary size';
  for (let seq = 1; seq <= RAW_MESSAGES; seq++) {
    await pub.send([
      'replica.message',
      JSON.stringify({
        pattern: 'replica.message',
        data: {
          id: `n0:${seq}`,
          sender: 'n0',
          seq,
          clock: { n0: seq, n1: 0, n2: 0 },
          text,
          sentAt: new Date().toISOString(),
        },
      }),
    ]);
  }
  const done = await Promise.all(results);
  pub.close();
  await Promise.all(subs.map(({ child }) => stop(child)));
  progress(`raw subscribers received ${done.map((r) => r.count).join(', ')} of ${RAW_MESSAGES}`);
  return Math.min(...done.map((r) => r.count / r.seconds));
}

interface Cluster {
  children: ChildProcess[];
  clients: LeanRequester[];
  dataDir: string;
  members: string;
}

async function startCluster(): Promise<Cluster> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-cluster-'));
  const base = 27_000 + Math.floor(Math.random() * 1000) * 10;
  const members = localMembers(NODES, base);
  const children = Array.from({ length: NODES }, (_, i) =>
    spawnNode(`n${i}`, members, dataDir, 'inherit-errors'),
  );
  const clients = Array.from(
    { length: NODES },
    (_, i) => new LeanRequester(`tcp://127.0.0.1:${base + 10 * i}`),
  );
  // A DEALER queues requests until the node binds: the first answer means it is up.
  await Promise.all(clients.map((client) => client.request(Requests.state, {})));
  await sleep(1000); // every node hears the others' heartbeats before the clock starts
  return { children, clients, dataDir, members };
}

const state = (c: LeanRequester) => c.request<NodeState>(Requests.state, {});

/**
 * Originates `total` messages, a third at each node with IN_FLIGHT_PER_NODE in flight, and
 * returns once every node has delivered all of them.
 */
async function originateAll(cluster: Cluster, total: number, label: string): Promise<void> {
  const before = await Promise.all(cluster.clients.map(state));
  const perNode = total / NODES;
  await Promise.all(
    cluster.clients.map(async (client, n) => {
      let issued = 0;
      await Promise.all(
        Array.from({ length: IN_FLIGHT_PER_NODE }, async () => {
          while (issued < perNode) {
            issued++;
            await client.request(Requests.send, { text: `n${n} ${label} message ${issued}` });
          }
        }),
      );
    }),
  );
  for (;;) {
    const states = await Promise.all(cluster.clients.map(state));
    if (states.every((s, i) => s.lastIndex >= before[i].lastIndex + total)) break;
    await sleep(5);
  }
}

/** Starts counting CPU; the result says how much each node and this driver spent since. */
function cpuMeter(cluster: Cluster): () => { nodeMs: number[]; driverMs: number } {
  const pids = cluster.children.map((c) => c.pid!);
  const before = pids.map(cpuMs);
  const driverBefore = process.cpuUsage();
  return () => {
    const driver = process.cpuUsage(driverBefore);
    return {
      nodeMs: pids.map((pid, i) => cpuMs(pid) - before[i]),
      driverMs: (driver.user + driver.system) / 1000,
    };
  };
}

/**
 * Sustained messages/s delivered at all nodes, and CPU µs per message of each node and of
 * this driver. A warm-up run first (not timed), as bench:transport does: JIT-compiled code
 * and grown heaps are the steady state a long-running node is in.
 */
async function throughput(
  cluster: Cluster,
): Promise<{ perSec: number; nodeCpuUs: number[]; driverCpuUs: number }> {
  await originateAll(cluster, WARMUP_MESSAGES, 'warm-up');
  const cpu = cpuMeter(cluster);
  const start = Date.now();
  await originateAll(cluster, THROUGHPUT_MESSAGES, 'timed');
  const seconds = (Date.now() - start) / 1000;
  const { nodeMs, driverMs } = cpu();
  const perMessage = (ms: number) => Math.round((ms * 1000) / THROUGHPUT_MESSAGES);
  return {
    perSec: THROUGHPUT_MESSAGES / seconds,
    nodeCpuUs: nodeMs.map(perMessage),
    driverCpuUs: perMessage(driverMs),
  };
}

/** Originate at a fixed rate round-robin over the nodes; time until the last node announces delivery. */
async function latency(
  cluster: Cluster,
  rate: number,
  seconds: number,
): Promise<{
  p50: number;
  p99: number;
  replyP50: number;
  replyP99: number;
  sent: number;
  nodeCpuUs: number[];
  driverCpuUs: number;
  busyPct: number;
}> {
  const subs = cluster.members.split(',').map((entry) => {
    const port = Number(entry.split(':')[1]);
    const sub = new Subscriber({ linger: 0 });
    sub.subscribe(NodeEvents.delivered);
    sub.connect(`tcp://127.0.0.1:${port + 1}`);
    return sub;
  });
  const issuedAt = new Map<string, number>();
  const seen = new Map<string, number>();
  const latencies: number[] = [];
  const replies: number[] = [];
  const loops = subs.map(async (sub) => {
    for await (const [, payload] of sub) {
      const now = performance.now();
      const event = (JSON.parse(payload.toString()) as { data: DeliveredEvent }).data;
      for (const m of event.messages) {
        const count = (seen.get(m.id) ?? 0) + 1;
        seen.set(m.id, count);
        const t0 = issuedAt.get(m.id);
        if (count === NODES && t0 !== undefined) latencies.push(now - t0);
      }
    }
  });
  await sleep(500);
  const total = rate * seconds;
  const interval = 1000 / rate;
  const cpu = cpuMeter(cluster);
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const t0 = performance.now();
    const client = cluster.clients[i % NODES];
    pending.push(
      client.request<ChatMessage>(Requests.send, { text: `paced ${i}` }).then((m) => {
        replies.push(performance.now() - t0);
        issuedAt.set(m.id, t0);
        if ((seen.get(m.id) ?? 0) >= NODES) latencies.push(performance.now() - t0);
      }),
    );
  }
  await Promise.all(pending);
  // CPU of the paced window: every process of the run, against what the machine's cores offer
  const wallMs = performance.now() - start;
  const { nodeMs, driverMs } = cpu();
  const perMessage = (ms: number) => Math.round((ms * 1000) / total);
  const busyPct = (100 * (nodeMs.reduce((a, b) => a + b, 0) + driverMs)) / (wallMs * cpus().length);
  await sleep(1000);
  for (const sub of subs) sub.close();
  await Promise.allSettled(loops);
  latencies.sort((a, b) => a - b);
  replies.sort((a, b) => a - b);
  return {
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    replyP50: percentile(replies, 50),
    replyP99: percentile(replies, 99),
    sent: latencies.length,
    nodeCpuUs: nodeMs.map(perMessage),
    driverCpuUs: perMessage(driverMs),
    busyPct,
  };
}

async function main(): Promise<void> {
  progress('raw PUB/SUB fan-out');
  const raw = await rawFanOut();
  progress('starting three nodes');
  const cluster = await startCluster();
  const peakRss = watchPeakRss(cluster.children.map((c) => c.pid!));
  progress(
    `originating ${WARMUP_MESSAGES} (warm-up) + ${THROUGHPUT_MESSAGES} messages, ${IN_FLIGHT_PER_NODE} in flight per node`,
  );
  const { perSec: deliveredPerSec, nodeCpuUs, driverCpuUs } = await throughput(cluster);
  progress(`latency at ${LATENCY_RATE} msg/s for ${LATENCY_SECONDS} s`);
  const lat = await latency(cluster, LATENCY_RATE, LATENCY_SECONDS);
  let soak: { seconds: number; rssStartMB: number[]; rssEndMB: number[] } | undefined;
  const soakSeconds = arg('soak');
  if (soakSeconds) {
    const rssStartMB = cluster.children.map((c) => Math.round(rssMB(c.pid!)));
    await latency(cluster, 500, soakSeconds);
    const states = await Promise.all(cluster.clients.map(state));
    if (states.some((s) => s.buffered.length > 0))
      throw new Error('hold-back buffer not empty after soak');
    soak = {
      seconds: soakSeconds,
      rssStartMB,
      rssEndMB: cluster.children.map((c) => Math.round(rssMB(c.pid!))),
    };
  }
  const rss = peakRss();
  for (const client of cluster.clients) await client.close();
  await Promise.all(cluster.children.map(stop));
  rmSync(cluster.dataDir, { recursive: true, force: true });

  const ratio = deliveredPerSec / raw;
  process.stdout.write(`Three chat-node processes, link simulation off, SQLite synchronous=FULL\n`);
  process.stdout.write(
    `raw zeromq.js PUB/SUB fan-out   ${fmt(raw).padStart(9)} msg/s per subscriber (3 subscriber processes)\n`,
  );
  process.stdout.write(
    `delivered at all three nodes    ${fmt(deliveredPerSec).padStart(9)} msg/s (${fmt(ratio * 100, 1)}% of raw; target >= 10,000 and >= 12%)\n`,
  );
  process.stdout.write(
    `originate -> delivered everywhere at ${fmt(LATENCY_RATE)} msg/s: p50 ${fmt(lat.p50, 1)} ms, p99 ${fmt(lat.p99, 1)} ms (target p99 < 50); the originating node's reply p50 ${fmt(lat.replyP50, 1)} ms, p99 ${fmt(lat.replyP99, 1)} ms\n`,
  );
  process.stdout.write(
    `CPU per message at ${fmt(LATENCY_RATE)} msg/s: nodes ${lat.nodeCpuUs.map((us) => `${us} µs`).join(', ')}; this load generator ${lat.driverCpuUs} µs — ${fmt(lat.busyPct)}% of the machine's ${cpus().length} cores busy\n`,
  );
  process.stdout.write(
    `CPU per message during the throughput run: nodes ${nodeCpuUs.map((us) => `${us} µs`).join(', ')}; this load generator ${driverCpuUs} µs\n`,
  );
  process.stdout.write(`peak RSS per node: ${rss.map((r) => `${fmt(r)} MB`).join(', ')}\n`);
  if (soak)
    process.stdout.write(
      `soak ${soak.seconds}s at 500 msg/s: RSS start ${soak.rssStartMB.join('/')} MB, end ${soak.rssEndMB.join('/')} MB\n`,
    );
  process.stdout.write(
    `${JSON.stringify({ deliveredPerSec: Math.round(deliveredPerSec), rawPerSubscriberPerSec: Math.round(raw), ratio: Number(ratio.toFixed(3)), p50ms: Number(lat.p50.toFixed(2)), p99ms: Number(lat.p99.toFixed(2)), replyP50ms: Number(lat.replyP50.toFixed(2)), replyP99ms: Number(lat.replyP99.toFixed(2)), pacedNodeCpuUsPerMsg: lat.nodeCpuUs, pacedDriverCpuUsPerMsg: lat.driverCpuUs, pacedBusyPct: Math.round(lat.busyPct), rssMBMax: Math.round(Math.max(...rss)), nodeCpuUsPerMsg: nodeCpuUs, driverCpuUsPerMsg: driverCpuUs, ...(soak ? { soak } : {}) })}\n`,
  );
}

void main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
