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
const LATENCY_SAMPLES = 5_000;
const PIPELINED = 60_000;
const IN_FLIGHT = 64;
const payload = { text: 'hello causal world', n: 42 };

interface Figures {
  reqPerSec: number;
  p50us: number;
  p99us: number;
}

type Call = () => Promise<unknown>;

async function measure(callOnce: Call): Promise<Figures> {
  for (let i = 0; i < 2_000; i++) await callOnce();
  const samples: number[] = [];
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const start = process.hrtime.bigint();
    await callOnce();
    samples.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  samples.sort((a, b) => a - b);
  let issued = 0;
  const start = process.hrtime.bigint();
  const worker = async () => {
    while (issued < PIPELINED) {
      issued++;
      await callOnce();
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return {
    reqPerSec: Math.round(PIPELINED / seconds),
    p50us: Math.round(percentile(samples, 50)),
    p99us: Math.round(percentile(samples, 99)),
  };
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
  const raw = await rawClient(rawServer.line);
  const rawFigures = await measure(raw.call);
  raw.close();
  await stop(rawServer.child);

  const nestServer = await startScript(SERVER, ['nest']);
  const client = new ZmqClient({ connect: nestServer.line });
  await client.connect();
  const clientFigures = await measure(() => lastValueFrom(client.send('echo', payload)));
  await client.close();
  await stop(nestServer.child);

  const ratio = clientFigures.reqPerSec / rawFigures.reqPerSec;
  const row = (name: string, f: Figures) =>
    `${name.padEnd(26)} ${fmt(f.reqPerSec).padStart(9)} req/s   p50 ${fmt(f.p50us).padStart(5)} µs   p99 ${fmt(f.p99us).padStart(5)} µs`;
  process.stdout.write(
    `Request/response between two processes (${IN_FLIGHT} in flight for req/s; one at a time for latency)\n`,
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
