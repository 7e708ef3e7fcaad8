/**
 * npm run bench:transport — request/response over ZeroMQ between two processes, in one run:
 * a raw zeromq.js DEALER/ROUTER pair (the baseline), then ZmqClient -> ZmqServer
 * `@MessagePattern`. Round trips one at a time (p50/p99) and pipelined throughput with 64
 * in flight. The last line is one JSON object of the figures.
 */
import { randomUUID } from 'node:crypto';
import { lastValueFrom } from 'rxjs';
import { Dealer } from 'zeromq';
import { ZmqClient } from '@app/zmq-transport';
import { fmt, percentile, startScript, stop } from './bench-util';

const SERVER = 'scripts/bench/transport-server.ts';
const WARM_UP = 10_000;
const ROUNDS = 10;
const SAMPLES_PER_ROUND = 1_000;
const PIPELINED = 60_000;
const IN_FLIGHT = 64;
const payload = { text: 'hello causal world', n: 42 };

interface Figures {
  reqPerSec: number;
  p50us: number;
  p99us: number;
}

type Call = () => Promise<unknown>;

async function roundTrips(callOnce: Call, count: number, into: number[]): Promise<void> {
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    await callOnce();
    into.push(Number(process.hrtime.bigint() - start) / 1000);
  }
}

async function pipelined(callOnce: Call): Promise<number> {
  let issued = 0;
  const start = process.hrtime.bigint();
  const worker = async () => {
    while (issued < PIPELINED) {
      issued++;
      await callOnce();
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return Math.round(PIPELINED / (Number(process.hrtime.bigint() - start) / 1e9));
}

/**
 * Both pairs run side by side and take turns: warm-up to steady state (JIT and young
 * generation sized), then rounds of round trips alternating raw and client, so a noisy
 * neighbour on this shared 2-core machine lands on both tails alike; then throughput of
 * each, best of two turns.
 */
async function measure(
  calls: Record<'raw' | 'client', Call>,
): Promise<Record<'raw' | 'client', Figures>> {
  for (const call of Object.values(calls)) await roundTrips(call, WARM_UP, []);
  const samples = { raw: [] as number[], client: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    await roundTrips(calls.raw, SAMPLES_PER_ROUND, samples.raw);
    await roundTrips(calls.client, SAMPLES_PER_ROUND, samples.client);
  }
  const throughput = { raw: 0, client: 0 };
  for (let turn = 0; turn < 2; turn++) {
    throughput.raw = Math.max(throughput.raw, await pipelined(calls.raw));
    throughput.client = Math.max(throughput.client, await pipelined(calls.client));
  }
  const figures = (name: 'raw' | 'client'): Figures => {
    const sorted = samples[name].sort((a, b) => a - b);
    return {
      reqPerSec: throughput[name],
      p50us: Math.round(percentile(sorted, 50)),
      p99us: Math.round(percentile(sorted, 99)),
    };
  };
  return { raw: figures('raw'), client: figures('client') };
}

/** A minimal correct raw client: one writer at a time, replies matched by id. */
async function rawClient(endpoint: string): Promise<{ call: Call; close: () => void }> {
  const dealer = new Dealer({
    linger: 0,
    sendHighWaterMark: 100_000,
    receiveHighWaterMark: 100_000,
  });
  dealer.connect(endpoint);
  const waiting = new Map<string, () => void>();
  const queue: string[] = [];
  let writing = false;
  const flush = async () => {
    writing = true;
    while (queue.length > 0) await dealer.send(queue.shift()!);
    writing = false;
  };
  void (async () => {
    for await (const [reply] of dealer) {
      const { id } = JSON.parse(reply.toString()) as { id: string };
      waiting.get(id)?.();
      waiting.delete(id);
    }
  })().catch(() => undefined);
  const call = () =>
    new Promise<void>((resolve) => {
      const id = randomUUID();
      waiting.set(id, resolve);
      queue.push(JSON.stringify({ id, pattern: 'echo', data: payload }));
      if (!writing) void flush();
    });
  return { call, close: () => dealer.close() };
}

async function main(): Promise<void> {
  const rawServer = await startScript(SERVER, ['raw']);
  const nestServer = await startScript(SERVER, ['nest']);
  const raw = await rawClient(rawServer.line);
  const client = new ZmqClient({ connect: nestServer.line });
  await client.connect();
  const { raw: rawFigures, client: clientFigures } = await measure({
    raw: raw.call,
    client: () => lastValueFrom(client.send('echo', payload)),
  });
  raw.close();
  await client.close();
  await Promise.all([stop(rawServer.child), stop(nestServer.child)]);

  const ratio = clientFigures.reqPerSec / rawFigures.reqPerSec;
  const row = (name: string, f: Figures) =>
    `${name.padEnd(26)} ${fmt(f.reqPerSec).padStart(9)} req/s   p50 ${fmt(f.p50us).padStart(5)} µs   p99 ${fmt(f.p99us).padStart(5)} µs`;
  process.stdout.write(
    `Request/response between two processes (${IN_FLIGHT} in flight for req/s, best of 2; one at a time for latency, ${ROUNDS} alternating rounds of ${SAMPLES_PER_ROUND} after ${WARM_UP} warm-up calls)\n`,
  );
  process.stdout.write(
    `${row('raw DEALER/ROUTER', rawFigures)}\n${row('ZmqClient -> ZmqServer', clientFigures)}\n`,
  );
  process.stdout.write(
    `throughput ratio ${ratio.toFixed(2)} (target >= 0.50); p99 ratio ${(clientFigures.p99us / rawFigures.p99us).toFixed(2)} (target <= 2)\n`,
  );
  process.stdout.write(
    `${JSON.stringify({
      rawReqPerSec: rawFigures.reqPerSec,
      clientReqPerSec: clientFigures.reqPerSec,
      ratio: Number(ratio.toFixed(3)),
      rawP50us: rawFigures.p50us,
      rawP99us: rawFigures.p99us,
      clientP50us: clientFigures.p50us,
      clientP99us: clientFigures.p99us,
      rssMB: Math.round(process.memoryUsage().rss / 1048576),
    })}\n`,
  );
}

void main();
