/**
 * npm run bench:gateway [-- --only rest] — the edge, as `npm start` runs it (CURVE on).
 *
 * REST: autocannon, 50 connections, POST /nodes/:id/messages end to end (gateway -> node ->
 * durable write -> reply), beside a bare NestJS app with the same route and validation on
 * the same adapter, in the same run. CPU per request is read per process from /proc (steal
 * is not counted there), so the ratio holds on a noisy machine: the gateway's against the
 * bare app's, and the whole system's (gateway + nodes; the load generator excluded).
 *
 * Socket.IO: POST at a fixed rate and time until subscribers of all three nodes have the
 * message, at 1,000 and 250 msg/s. A classroom: 30 browsers' worth of clients (one
 * connection each, on all three namespaces, as the page does) at 200 msg/s: every client
 * must get every message; the time until the last client has it, and the gateway's CPU per
 * message per client. Then the REST load once more with CURVE off, for the figure beside.
 *
 * `--only rest` runs the REST comparison alone (for measuring rounds). The last line is one
 * JSON object of the figures.
 */
import { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import http from 'node:http';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { io, Manager, Socket } from 'socket.io-client';
import { ChatMessage, localMembers } from '@app/contracts';
import {
  arg,
  benchKeys,
  cpuMs,
  fmt,
  percentile,
  spawnGateway,
  spawnNode,
  startScript,
  stop,
  threadCpuMs,
  watchPeakRss,
} from './bench-util';

const DURATION_S = Number(arg('seconds') ?? 10);
const CONNECTIONS = 50;
const SOCKET_RATE = 1000;
const SOCKET_SECONDS = 5;
const SUSTAINED_RATE = 250;
const CLASSROOM_BROWSERS = 30;
const CLASSROOM_RATE = 200;
const ONLY_REST = arg('only') === 'rest';
/** `--rate R`: autocannon paces all connections to R requests/s (for A/B rounds at equal load). */
const RATE = arg('rate') ? Number(arg('rate')) : undefined;
const IDS = ['n0', 'n1', 'n2'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const progress = (text: string) => process.stderr.write(`[bench:gateway] ${text}\n`);

interface Load {
  perSec: number;
  p50: number;
  p99: number;
  non2xx: number;
  requests: number;
}

async function load(url: string, path: (i: number) => string): Promise<Load> {
  let i = 0;
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: DURATION_S,
    ...(RATE ? { overallRate: RATE } : {}),
    requests: [
      {
        method: 'POST',
        setupRequest: (request) => ({
          ...request,
          path: path(i++),
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ text: `bench message ${i}` }),
        }),
      },
    ],
  });
  return {
    perSec: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    requests: result.requests.total,
  };
}

async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await sleep(100);
  }
  throw new Error(`${url} did not come up`);
}

/** CPU µs per unit of work of each process while `work` runs. */
async function cpuDuring<T>(
  pids: number[],
  work: () => Promise<T>,
  units: (result: T) => number,
): Promise<{ result: T; cpuUs: number[] }> {
  const before = pids.map(cpuMs);
  const result = await work();
  const n = Math.max(1, units(result));
  return { result, cpuUs: pids.map((pid, i) => ((cpuMs(pid) - before[i]) * 1000) / n) };
}

/** CPU µs per unit of work of each thread group (main, ZMQbg, libuv pool, GC) of `pid`. */
function threadShare(
  before: Record<string, number>,
  after: Record<string, number>,
  units: number,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, ms] of Object.entries(after))
    out[name] = Math.round(((ms - (before[name] ?? 0)) * 1000) / Math.max(1, units));
  return out;
}

/** Calls `onMessage` for every message a socket receives, in either event shape. */
function onMessages(socket: Socket, onMessage: (m: ChatMessage) => void): () => void {
  const batch = (event: { messages: ChatMessage[] }) => event.messages.forEach(onMessage);
  socket.on('deliveries', batch);
  socket.on('delivered', onMessage);
  return () => {
    socket.off('deliveries', batch);
    socket.off('delivered', onMessage);
  };
}

interface Posted {
  /** performance.now() at each successful POST's start, by message id. */
  postedAt: Map<string, number>;
  failed: number;
}

/**
 * A keep-alive HTTP poster for the paced rounds. The generator shares the two cores with
 * what it measures, and fetch() costs it about 500 µs of CPU per message with three
 * Socket.IO clients beside (node:http about 270): at 1,000 msg/s that difference is a fifth
 * of a core taken from the system under test, and shows in its tail.
 */
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
function postJson<T>(host: string, port: string, path: string, body: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const request = http.request(
      {
        host,
        port,
        path,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          if ((response.statusCode ?? 0) >= 300)
            return reject(new Error(`POST ${path}: ${response.statusCode}`));
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as T);
          } catch (error) {
            reject(error as Error);
          }
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/** POSTs at `rate` round-robin over the nodes for `seconds`. */
async function postAtRate(
  url: string,
  rate: number,
  seconds: number,
  label: string,
  onPosted: (id: string, t0: number) => void = () => undefined,
): Promise<Posted> {
  const postedAt = new Map<string, number>();
  let failed = 0;
  const { hostname, port } = new URL(url);
  const start = performance.now();
  const posts: Promise<void>[] = [];
  for (let i = 0; i < rate * seconds; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 1) await sleep(wait);
    const t0 = performance.now();
    posts.push(
      postJson<ChatMessage>(
        hostname,
        port,
        `/nodes/n${i % 3}/messages`,
        JSON.stringify({ text: `${label} ${i}` }),
      ).then(
        (m) => {
          postedAt.set(m.id, t0);
          onPosted(m.id, t0);
        },
        () => {
          failed++; // counted and reported, not fatal: an overloaded machine refuses some
        },
      ),
    );
  }
  await Promise.all(posts);
  return { postedAt, failed };
}

/**
 * Time from each message's POST until all `sockets` had it: a message counts as seen by
 * all once `sockets.length` receipts of it arrived (each socket gets it once).
 */
async function fanOut(
  url: string,
  sockets: Socket[],
  rate: number,
  seconds: number,
  label: string,
): Promise<{ latencies: number[]; failedPosts: number; received: number[]; posted: number }> {
  const postedAt = new Map<string, number>();
  const seen = new Map<string, number>();
  const latencies: number[] = [];
  const received = sockets.map(() => 0);
  const offs = sockets.map((socket, i) =>
    onMessages(socket, (m) => {
      if (!m.text?.startsWith(label)) return;
      received[i]++;
      const count = (seen.get(m.id) ?? 0) + 1;
      seen.set(m.id, count);
      const t0 = postedAt.get(m.id);
      if (count === sockets.length && t0 !== undefined) latencies.push(performance.now() - t0);
    }),
  );
  const posted = await postAtRate(url, rate, seconds, label, (id, t0) => {
    postedAt.set(id, t0);
    if ((seen.get(id) ?? 0) >= sockets.length) latencies.push(performance.now() - t0);
  });
  for (let i = 0; i < 50 && received.some((n) => n < posted.postedAt.size); i++) await sleep(100);
  offs.forEach((off) => off());
  latencies.sort((a, b) => a - b);
  return { latencies, failedPosts: posted.failed, received, posted: posted.postedAt.size };
}

/** Three nodes and a gateway on loopback; CURVE on unless `curve` is false. */
async function cluster(curve: boolean) {
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-gateway-'));
  const base = 29_000 + Math.floor(Math.random() * 500) * 10;
  const members = localMembers(3, base);
  const port = 38_000 + Math.floor(Math.random() * 1000);
  const keys = benchKeys(dataDir, IDS, curve);
  const nodes: ChildProcess[] = IDS.map((id) =>
    spawnNode(id, members, dataDir, 'ignore', keys.dir),
  );
  const gateway = spawnGateway(members, port, keys.dir);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/health`);
  return {
    url,
    gateway,
    nodes,
    async stop() {
      await Promise.all([gateway, ...nodes].map(stop));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function restRound(system: Awaited<ReturnType<typeof cluster>>) {
  const gatewayPid = system.gateway.pid!;
  const pids = [gatewayPid, ...system.nodes.map((c) => c.pid!)];
  const threadsBefore = threadCpuMs(gatewayPid);
  const { result, cpuUs } = await cpuDuring(
    pids,
    () => load(system.url, (i) => `/nodes/n${i % 3}/messages`),
    (l) => l.requests - l.non2xx,
  );
  const threads = threadShare(threadsBefore, threadCpuMs(gatewayPid), result.requests);
  return {
    load: result,
    gatewayCpuUs: cpuUs[0],
    nodeCpuUs: cpuUs.slice(1),
    totalCpuUs: cpuUs.reduce((a, b) => a + b, 0),
    threads,
  };
}

async function main(): Promise<void> {
  progress('bare NestJS app');
  const bare = await startScript('scripts/bench/bare-app.ts');
  const bareRss = watchPeakRss([bare.child.pid!]);
  const bareThreadsBefore = threadCpuMs(bare.child.pid!);
  const { result: bareLoad, cpuUs: bareCpu } = await cpuDuring(
    [bare.child.pid!],
    () => load(`http://127.0.0.1:${bare.line}`, () => '/nodes/n0/messages'),
    (l) => l.requests,
  );
  const bareCpuUs = bareCpu[0];
  const bareThreads = threadShare(
    bareThreadsBefore,
    threadCpuMs(bare.child.pid!),
    bareLoad.requests,
  );
  const [bareRssMB] = bareRss();
  await stop(bare.child);

  progress('three nodes + gateway, CURVE on');
  const system = await cluster(true);
  const gatewayRss = watchPeakRss([system.gateway.pid!]);
  const rest = await restRound(system);

  let sockets: Socket[] = [];
  let live: Awaited<ReturnType<typeof fanOut>> | undefined;
  let steady: Awaited<ReturnType<typeof fanOut>> | undefined;
  let classroom:
    | (Awaited<ReturnType<typeof fanOut>> & { gatewayCpuUsPerClient: number; clients: number })
    | undefined;
  let plain: Awaited<ReturnType<typeof restRound>> | undefined;
  if (!ONLY_REST) {
    await sleep(2000);
    sockets = IDS.map((id) => io(`${system.url}/nodes/${id}`, { transports: ['websocket'] }));
    await Promise.all(sockets.map((s) => new Promise((r) => s.once('hello', r))));
    progress(`Socket.IO at ${SOCKET_RATE} msg/s`);
    live = await fanOut(system.url, sockets, SOCKET_RATE, SOCKET_SECONDS, 'live');
    await sleep(2000);
    progress(`Socket.IO at ${SUSTAINED_RATE} msg/s`);
    steady = await fanOut(system.url, sockets, SUSTAINED_RATE, SOCKET_SECONDS, 'steady');
    for (const socket of sockets) socket.close();

    progress(
      `a classroom: ${CLASSROOM_BROWSERS} browsers × 3 namespaces at ${CLASSROOM_RATE} msg/s`,
    );
    const managers = Array.from(
      { length: CLASSROOM_BROWSERS },
      () => new Manager(system.url, { transports: ['websocket'] }),
    );
    const room = managers.flatMap((manager) => IDS.map((id) => manager.socket(`/nodes/${id}`)));
    for (const socket of room) socket.connect();
    await Promise.all(room.map((s) => new Promise((r) => s.once('hello', r))));
    await sleep(1000);
    const { result, cpuUs } = await cpuDuring(
      [system.gateway.pid!],
      () => fanOut(system.url, room, CLASSROOM_RATE, SOCKET_SECONDS, 'class'),
      (r) => r.posted * room.length,
    );
    classroom = { ...result, gatewayCpuUsPerClient: cpuUs[0], clients: room.length };
    for (const socket of room) socket.close();
  }
  const [gatewayRssMB] = gatewayRss();
  agent.destroy();
  await system.stop();

  if (!ONLY_REST) {
    progress('three nodes + gateway, CURVE off');
    const plaintext = await cluster(false);
    plain = await restRound(plaintext);
    await plaintext.stop();
  }

  const ratio = rest.load.perSec / bareLoad.perSec;
  const cpuRatio = rest.gatewayCpuUs / bareCpuUs;
  const row = (name: string, l: Load) =>
    `${name.padEnd(40)} ${fmt(l.perSec).padStart(7)} req/s   p50 ${fmt(l.p50)} ms   p99 ${fmt(l.p99)} ms   non-2xx ${l.non2xx}`;
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(
    `autocannon, ${CONNECTIONS} connections, ${DURATION_S} s, POST /nodes/:id/messages (Fastify adapter)`,
  );
  out(row('bare NestJS app (same DTO, memory)', bareLoad));
  out(row('gateway -> node -> SQLite (CURVE on)', rest.load));
  if (plain) out(row('gateway -> node -> SQLite (CURVE off)', plain.load));
  out(`throughput ratio ${ratio.toFixed(2)} (target >= 0.45; >= 3,000 req/s, p99 < 50 ms)`);
  out(
    `CPU per request: gateway ${fmt(rest.gatewayCpuUs)} µs vs bare app ${fmt(bareCpuUs)} µs = ${cpuRatio.toFixed(2)}× (target <= 1.5×)`,
  );
  const threadList = (threads: Record<string, number>) =>
    Object.entries(threads)
      .filter(([, us]) => us > 0)
      .map(([name, us]) => `${name} ${us} µs`)
      .join(', ');
  out(`  by thread: gateway ${threadList(rest.threads)}; bare app ${threadList(bareThreads)}`);
  out(
    `total CPU per durable message (gateway + nodes ${rest.nodeCpuUs.map((us) => fmt(us)).join('/')} µs): ${fmt(rest.totalCpuUs)} µs (target <= 700)` +
      (plain ? `; CURVE off ${fmt(plain.totalCpuUs)} µs (gateway ${fmt(plain.gatewayCpuUs)})` : ''),
  );
  const p = (l: number[], q: number) => fmt(percentile(l, q), 1);
  if (live && steady && classroom) {
    out(
      `Socket.IO: POST -> at subscribers of all three nodes, ${SOCKET_RATE} msg/s: p50 ${p(live.latencies, 50)} ms, p99 ${p(live.latencies, 99)} ms (target < 20; ${live.latencies.length} messages, ${live.failedPosts} failed POSTs)`,
    );
    out(
      `Socket.IO at ${SUSTAINED_RATE} msg/s: p50 ${p(steady.latencies, 50)} ms, p99 ${p(steady.latencies, 99)} ms (target < 10; ${steady.latencies.length} messages)`,
    );
    const everyone = classroom.received.every((n) => n === classroom!.posted);
    out(
      `classroom, ${classroom.clients} clients at ${CLASSROOM_RATE} msg/s: POST -> the last client p50 ${p(classroom.latencies, 50)} ms, p99 ${p(classroom.latencies, 99)} ms (target < 50); every client got every message: ${everyone} (${Math.min(...classroom.received)}–${Math.max(...classroom.received)} of ${classroom.posted}); gateway CPU ${fmt(classroom.gatewayCpuUsPerClient, 1)} µs per message per client`,
    );
  }
  out(`peak RSS: gateway ${gatewayRssMB} MB, bare app ${bareRssMB} MB`);
  const r2 = (n: number) => Number(n.toFixed(2));
  out(
    JSON.stringify({
      restPerSec: Math.round(rest.load.perSec),
      bareRestPerSec: Math.round(bareLoad.perSec),
      ratio: Number(ratio.toFixed(3)),
      p50ms: rest.load.p50,
      p99ms: rest.load.p99,
      gatewayCpuUs: Math.round(rest.gatewayCpuUs),
      bareCpuUs: Math.round(bareCpuUs),
      cpuRatio: r2(cpuRatio),
      totalCpuUs: Math.round(rest.totalCpuUs),
      nodeCpuUs: rest.nodeCpuUs.map(Math.round),
      gatewayThreadsUs: rest.threads,
      ...(plain
        ? {
            plaintext: {
              restPerSec: Math.round(plain.load.perSec),
              p99ms: plain.load.p99,
              gatewayCpuUs: Math.round(plain.gatewayCpuUs),
              totalCpuUs: Math.round(plain.totalCpuUs),
            },
          }
        : {}),
      ...(live && steady && classroom
        ? {
            socketP50ms: r2(percentile(live.latencies, 50)),
            socketP99ms: r2(percentile(live.latencies, 99)),
            socketMessages: live.latencies.length,
            socketFailedPosts: live.failedPosts,
            sustainedRate: SUSTAINED_RATE,
            socketP99ms250: r2(percentile(steady.latencies, 99)),
            sustainedSocketP50ms: r2(percentile(steady.latencies, 50)),
            sustainedSocketP99ms: r2(percentile(steady.latencies, 99)),
            classroomClients: classroom.clients,
            classroomP99ms: r2(percentile(classroom.latencies, 99)),
            classroomDelivered: classroom.received.every((n) => n === classroom!.posted),
            classroomCpuUsPerClient: r2(classroom.gatewayCpuUsPerClient),
          }
        : {}),
      gatewayRssMB,
      bareRssMB,
    }),
  );
}

void main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
