/**
 * npm run bench:node-cpu [-- --in-flight N --batch N] — where one chat-node's CPU goes, per message and per thread, with
 * nothing else competing: one node of a three-member cluster (the peers are stand-ins),
 * (1) originating through its request socket, 64 in flight, as bench:cluster drives it;
 * (2) accepting a peer's messages as `replica.messages` frames of 32, as a group commit
 * sends them. Beside them, the baseline every message pays at least once: one zeromq.js
 * send measured in this process. The last line is one JSON object of the figures.
 * The node runs with CHAT_CURVE=off: this is the node's own work per message; what CURVE
 * adds is measured by bench:cluster, on and off in the same run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dealer, Publisher, Router } from 'zeromq';
import { localMembers, NodeState, Requests, ReplicaEvents } from '@app/contracts';
import { fmt, LeanRequester, spawnNode, stop, threadCpuMs } from './bench-util';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
/** `-- --in-flight 1 --batch 1` shows the cost of a message that travels alone. */
const MESSAGES = arg('messages', 20_000);
const IN_FLIGHT = arg('in-flight', 64);
const BATCH = arg('batch', 32);
const SENDS = 20_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const progress = (text: string) => process.stderr.write(`[bench:node-cpu] ${text}\n`);

type PerThread = Record<string, number>;

/** µs of CPU per message per thread between two snapshots, busiest first. */
function perMessage(before: PerThread, after: PerThread, messages: number): PerThread {
  const out: PerThread = {};
  for (const [name, ms] of Object.entries(after)) {
    const us = ((ms - (before[name] ?? 0)) * 1000) / messages;
    if (us > 0) out[name] = Math.round(us * 10) / 10;
  }
  return Object.fromEntries(Object.entries(out).sort(([, a], [, b]) => b - a));
}

const total = (threads: PerThread) => Object.values(threads).reduce((a, b) => a + b, 0);
const describe = (threads: PerThread) =>
  `${fmt(total(threads), 1)} µs (${Object.entries(threads)
    .map(([name, us]) => `${name} ${fmt(us, 1)}`)
    .join(', ')})`;

/** CPU µs of one ROUTER send of a reply-sized frame, receiver in the same process. */
async function zeromqSendUs(): Promise<number> {
  const router = new Router({ linger: 0, sendHighWaterMark: 0 });
  await router.bind('tcp://127.0.0.1:*');
  const dealer = new Dealer({ linger: 0, routingId: 'bench', receiveHighWaterMark: 0 });
  dealer.connect(router.lastEndpoint!);
  await dealer.send('hello');
  const [identity] = await router.receive();
  const drained = (async () => {
    let n = 0;
    for await (const frames of dealer) if (frames.length > 0 && ++n === SENDS) return;
  })();
  const frame = JSON.stringify({
    response: {
      id: 'n0:123',
      sender: 'n0',
      seq: 123,
      clock: { n0: 123, n1: 45, n2: 67 },
      text: 'n0 message 123',
      sentAt: new Date().toISOString(),
      index: 235,
      deliveredAt: new Date().toISOString(),
    },
    isDisposed: true,
    id: '123',
  });
  const before = process.cpuUsage();
  for (let i = 0; i < SENDS; i++) await router.send([identity, frame]);
  await drained;
  const used = process.cpuUsage(before);
  router.close();
  dealer.close();
  // The receiving loop runs in this process too: half of the time is the send side.
  return (used.user + used.system) / SENDS / 2;
}

async function main(): Promise<void> {
  const base = 35_000 + Math.floor(Math.random() * 500) * 10;
  const members = localMembers(3, base);
  // n1's publisher is ours: the node subscribes to it at start.
  const peer = new Publisher({ linger: 0, sendHighWaterMark: 0 });
  await peer.bind(`tcp://127.0.0.1:${base + 11}`);
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-node-cpu-'));
  const node = spawnNode('n0', members, dataDir, 'inherit-errors');
  const client = new LeanRequester(`tcp://127.0.0.1:${base}`);
  const state = () => client.request<NodeState>(Requests.state, {});
  await state();
  await sleep(1000); // the node's subscription reaches our publisher; JIT settles
  const pid = node.pid!;

  progress(`originating ${MESSAGES} messages, ${IN_FLIGHT} in flight`);
  let before = threadCpuMs(pid);
  let start = Date.now();
  let issued = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (issued < MESSAGES) {
        issued++;
        await client.request(Requests.send, { text: `n0 message ${issued}` });
      }
    }),
  );
  const originateRate = MESSAGES / ((Date.now() - start) / 1000);
  const originate = perMessage(before, threadCpuMs(pid), MESSAGES);

  progress(`accepting ${MESSAGES} messages from a peer in frames of ${BATCH}`);
  await sleep(500);
  before = threadCpuMs(pid);
  start = Date.now();
  const sentAt = new Date().toISOString();
  for (let seq = 1; seq <= MESSAGES;) {
    const messages = [];
    for (let k = 0; k < BATCH && seq <= MESSAGES; k++, seq++) {
      messages.push({
        id: `n1:${seq}`,
        sender: 'n1',
        seq,
        clock: { n0: MESSAGES, n1: seq, n2: 0 },
        text: `n1 message ${seq}`,
        sentAt,
        trace: { n1: seq },
      });
    }
    const packet = { pattern: ReplicaEvents.messages, data: { messages } };
    await peer.send([ReplicaEvents.messages, JSON.stringify(packet)]);
    if (seq % (BATCH * 16) === 1) await sleep(1); // a paced peer, not a flood that overruns HWMs
  }
  while ((await state()).lastIndex < 2 * MESSAGES) await sleep(10);
  const acceptRate = MESSAGES / ((Date.now() - start) / 1000);
  const accept = perMessage(before, threadCpuMs(pid), MESSAGES);

  await client.close();
  peer.close();
  await stop(node);
  rmSync(dataDir, { recursive: true, force: true });
  progress('one zeromq.js send, alone');
  const sendUs = await zeromqSendUs();

  process.stdout.write(`One chat-node, nothing else competing; CPU per message by thread\n`);
  process.stdout.write(
    `originate (chat.send, ${IN_FLIGHT} in flight)  ${fmt(originateRate).padStart(7)} msg/s  ${describe(originate)}\n`,
  );
  process.stdout.write(
    `accept (replica.messages of ${BATCH})     ${fmt(acceptRate).padStart(7)} msg/s  ${describe(accept)}\n`,
  );
  process.stdout.write(`baseline: one zeromq.js send             ${fmt(sendUs, 1)} µs of CPU\n`);
  process.stdout.write(
    `${JSON.stringify({
      originateUs: Math.round(total(originate)),
      acceptUs: Math.round(total(accept)),
      zeromqSendUs: Math.round(sendUs * 10) / 10,
      originatePerSec: Math.round(originateRate),
      acceptPerSec: Math.round(acceptRate),
      originateThreads: originate,
      acceptThreads: accept,
    })}\n`,
  );
}

void main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
