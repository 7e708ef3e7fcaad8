/**
 * npm run bench:gateway — autocannon, 50 connections, POST /nodes/:id/messages end to end
 * (gateway -> node -> durable write -> reply), beside a bare NestJS app with the same route
 * and validation on the same adapter, in the same run. Then Socket.IO latency: POST at a
 * fixed rate and time until subscribers of all three nodes have the `delivered` event.
 * The last line is one JSON object of the figures.
 */
import { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { io, Socket } from 'socket.io-client';
import { ChatMessage, localMembers } from '@app/contracts';
import {
  cpuMs,
  fmt,
  percentile,
  benchKeys,
  spawnGateway,
  spawnNode,
  startScript,
  stop,
  watchPeakRss,
} from './bench-util';

const DURATION_S = 10;
const CONNECTIONS = 50;
const SOCKET_RATE = 1000;
const SOCKET_SECONDS = 5;
/** A rate this 2-core machine sustains, to show latency when nothing queues. */
const SUSTAINED_RATE = 250;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const progress = (text: string) => process.stderr.write(`[bench:gateway] ${text}\n`);

interface Load {
  perSec: number;
  p50: number;
  p99: number;
  non2xx: number;
}

async function load(url: string, path: (i: number) => string): Promise<Load> {
  let i = 0;
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: DURATION_S,
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

/**
 * POSTs at a fixed rate round-robin over the nodes for SOCKET_SECONDS and measures, for each
 * message, the time from its POST until Socket.IO subscribers of all three nodes had it.
 */
async function socketLatency(
  url: string,
  sockets: Socket[],
  rate: number,
  label: string,
): Promise<{ latencies: number[]; failedPosts: number }> {
  const postedAt = new Map<string, number>();
  const seen = new Map<string, number>();
  const latencies: number[] = [];
  const onDelivered = (m: ChatMessage) => {
    const count = (seen.get(m.id) ?? 0) + 1;
    seen.set(m.id, count);
    const t0 = postedAt.get(m.id);
    if (count === 3 && t0 !== undefined) latencies.push(performance.now() - t0);
  };
  for (const socket of sockets) socket.on('delivered', onDelivered);
  const start = performance.now();
  let failedPosts = 0;
  const posts: Promise<void>[] = [];
  for (let i = 0; i < rate * SOCKET_SECONDS; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 1) await sleep(wait);
    const t0 = performance.now();
    posts.push(
      fetch(`${url}/nodes/n${i % 3}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: `${label} ${i}` }),
      })
        .then((r) => r.json() as Promise<ChatMessage>)
        .then(
          (m) => {
            postedAt.set(m.id, t0);
            if ((seen.get(m.id) ?? 0) >= 3) latencies.push(performance.now() - t0);
          },
          () => {
            failedPosts++; // counted and reported, not fatal: an overloaded machine refuses some
          },
        ),
    );
  }
  await Promise.all(posts);
  await sleep(1000);
  for (const socket of sockets) socket.off('delivered', onDelivered);
  latencies.sort((a, b) => a - b);
  return { latencies, failedPosts };
}

async function main(): Promise<void> {
  progress('bare NestJS app');
  const bare = await startScript('scripts/bench/bare-app.ts');
  const bareRss = watchPeakRss([bare.child.pid!]);
  const bareLoad = await load(`http://127.0.0.1:${bare.line}`, () => '/nodes/n0/messages');
  const [bareRssMB] = bareRss();
  await stop(bare.child);

  progress('three nodes + gateway');
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-gateway-'));
  const base = 29_000 + Math.floor(Math.random() * 500) * 10;
  const members = localMembers(3, base);
  const port = 38_000 + Math.floor(Math.random() * 1000);
  // CURVE on every link, as npm start runs it.
  const keys = benchKeys(dataDir, ['n0', 'n1', 'n2']);
  const children: ChildProcess[] = [0, 1, 2].map((i) =>
    spawnNode(`n${i}`, members, dataDir, 'ignore', keys.dir),
  );
  children.push(spawnGateway(members, port, keys.dir));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/health`);
  const gatewayRss = watchPeakRss([children[3].pid!]);
  const pids = [children[3].pid!, ...children.slice(0, 3).map((c) => c.pid!), process.pid];
  const cpuBefore = pids.map(cpuMs);
  const restLoad = await load(url, (i) => `/nodes/n${i % 3}/messages`);
  // Where the 2 cores went: CPU per answered request, by process.
  const requests = restLoad.perSec * DURATION_S;
  const cpuPerRequestUs = pids.map((pid, i) =>
    Math.round(((cpuMs(pid) - cpuBefore[i]) * 1000) / Math.max(1, requests)),
  );

  await sleep(2000);
  const sockets = [0, 1, 2].map((i) => io(`${url}/nodes/n${i}`, { transports: ['websocket'] }));
  await Promise.all(sockets.map((s) => new Promise((r) => s.once('hello', r))));
  progress(`Socket.IO latency at ${SOCKET_RATE} msg/s`);
  const { latencies, failedPosts } = await socketLatency(url, sockets, SOCKET_RATE, 'live');
  await sleep(2000);
  progress(`Socket.IO latency at ${SUSTAINED_RATE} msg/s`);
  const sustained = await socketLatency(url, sockets, SUSTAINED_RATE, 'steady');
  for (const socket of sockets) socket.close();
  const [gatewayRssMB] = gatewayRss();
  await Promise.all(children.map(stop));
  rmSync(dataDir, { recursive: true, force: true });

  const ratio = restLoad.perSec / bareLoad.perSec;
  const row = (name: string, l: Load) =>
    `${name.padEnd(34)} ${fmt(l.perSec).padStart(7)} req/s   p50 ${fmt(l.p50)} ms   p99 ${fmt(l.p99)} ms   non-2xx ${l.non2xx}`;
  process.stdout.write(
    `autocannon, ${CONNECTIONS} connections, ${DURATION_S} s, POST /nodes/:id/messages (Fastify adapter)\n`,
  );
  process.stdout.write(
    `${row('bare NestJS app (same DTO, memory)', bareLoad)}\n${row('gateway -> node -> SQLite (durable)', restLoad)}\n`,
  );
  process.stdout.write(
    `ratio ${ratio.toFixed(2)} (target >= 0.50; absolute target >= 4,000 req/s, p99 < 50 ms)\n`,
  );
  process.stdout.write(
    `Socket.IO: POST -> delivered at all three subscribers, ${SOCKET_RATE} msg/s: p50 ${fmt(percentile(latencies, 50), 1)} ms, p99 ${fmt(percentile(latencies, 99), 1)} ms (${latencies.length} messages, ${failedPosts} failed POSTs)\n`,
  );
  process.stdout.write(
    `Socket.IO at a sustainable ${SUSTAINED_RATE} msg/s: p50 ${fmt(percentile(sustained.latencies, 50), 1)} ms, p99 ${fmt(percentile(sustained.latencies, 99), 1)} ms (${sustained.latencies.length} messages, ${sustained.failedPosts} failed POSTs)\n`,
  );
  const [gatewayCpu, n0Cpu, n1Cpu, n2Cpu, loadCpu] = cpuPerRequestUs;
  process.stdout.write(
    `CPU per REST request: gateway ${gatewayCpu} µs, nodes ${n0Cpu}/${n1Cpu}/${n2Cpu} µs, load generator ${loadCpu} µs\n`,
  );
  process.stdout.write(
    `peak RSS: gateway ${gatewayRssMB} MB (REST load + Socket.IO phase), bare app ${bareRssMB} MB\n`,
  );
  process.stdout.write(
    `${JSON.stringify({
      restPerSec: Math.round(restLoad.perSec),
      bareRestPerSec: Math.round(bareLoad.perSec),
      ratio: Number(ratio.toFixed(3)),
      p50ms: restLoad.p50,
      p99ms: restLoad.p99,
      socketP50ms: Number(percentile(latencies, 50).toFixed(2)),
      socketP99ms: Number(percentile(latencies, 99).toFixed(2)),
      socketMessages: latencies.length,
      socketFailedPosts: failedPosts,
      sustainedRate: SUSTAINED_RATE,
      sustainedSocketP50ms: Number(percentile(sustained.latencies, 50).toFixed(2)),
      sustainedSocketP99ms: Number(percentile(sustained.latencies, 99).toFixed(2)),
      gatewayRssMB,
      bareRssMB,
      cpuPerRequestUs: { gateway: gatewayCpu, nodes: [n0Cpu, n1Cpu, n2Cpu], load: loadCpu },
    })}\n`,
  );
}

void main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
