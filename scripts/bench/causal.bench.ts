/**
 * npm run bench:causal — deliveries/s of the hold-back buffer for 8 senders and 200,000
 * messages: in causal order (the baseline), shuffled within windows, and with 100,000
 * held back then released at once; then what the hybrid logical clock adds per message
 * beside the vector clock's delivery. The last line is one JSON object of the figures.
 */
import { CausalBuffer, CausalMessage, Hlc, HybridClock, VectorClock } from '@app/causal';
import { seededRandom } from '../../apps/chat-node/src/network/seeded-random';

const SENDERS = 8;
const MESSAGES = 200_000;
const RUNS = 5;

/** Each sender has seen everything but the last few (0–15) messages: lots of concurrency. */
function history(random: () => number): CausalMessage[] {
  const ids = Array.from({ length: SENDERS }, (_, i) => `n${i}`);
  const prefix: Int32Array[] = [new Int32Array(SENDERS)];
  const own = new Int32Array(SENDERS);
  const lastSeen: Int32Array[] = ids.map(() => new Int32Array(SENDERS));
  const out: CausalMessage[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    const s = Math.floor(random() * SENDERS);
    const seen = prefix[Math.max(0, i - Math.floor(random() * 16))];
    const clock = lastSeen[s];
    for (let k = 0; k < SENDERS; k++) if (seen[k] > clock[k]) clock[k] = seen[k];
    clock[s] = ++own[s];
    const entries: [string, number][] = [];
    for (let k = 0; k < SENDERS; k++) if (clock[k] > 0) entries.push([ids[k], clock[k]]);
    out.push({ sender: ids[s], seq: own[s], clock: VectorClock.of(entries) });
    const next = Int32Array.from(prefix[i]);
    next[s] = own[s];
    prefix.push(next);
  }
  return out;
}

function shuffledWithin(messages: CausalMessage[], window: number, random: () => number) {
  const out = [...messages];
  for (let start = 0; start < out.length; start += window) {
    const end = Math.min(out.length, start + window);
    for (let i = end - 1; i > start; i--) {
      const j = start + Math.floor(random() * (i - start + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
  }
  return out;
}

function heldThenReleased(messages: CausalMessage[], held: number) {
  return [...messages.slice(0, held + 1).reverse(), ...messages.slice(held + 1)];
}

/**
 * Messages off the network are freshly decoded objects, allocated in arrival order; copying
 * them in that order reproduces that memory layout instead of measuring cache misses on
 * objects made in causal order and visited shuffled.
 */
function asDecoded(arrival: CausalMessage[]): CausalMessage[] {
  return arrival.map((m) => ({
    sender: m.sender,
    seq: m.seq,
    clock: VectorClock.of(m.clock.nonZero()),
  }));
}

/** One pass of `order` through a fresh buffer: deliveries/s and the deepest hold-back. */
function measureOnce(order: CausalMessage[]): { perSec: number; maxHeld: number } {
  const arrival = asDecoded(order);
  global.gc?.();
  const buffer = new CausalBuffer<CausalMessage>({ capacity: MESSAGES });
  const start = process.hrtime.bigint();
  let delivered = 0;
  for (const message of arrival) delivered += buffer.receive(message).length;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (delivered !== MESSAGES) throw new Error(`delivered ${delivered} of ${MESSAGES}`);
  return { perSec: delivered / seconds, maxHeld: buffer.stats.maxHeld };
}

/**
 * Best of RUNS for every case, the cases taking turns: a noisy neighbour on this shared
 * machine then slows all of them alike instead of spoiling one case's ratio.
 */
function measure(cases: Record<string, CausalMessage[]>) {
  const best: Record<string, { perSec: number; maxHeld: number }> = {};
  for (let run = 0; run < RUNS; run++) {
    for (const [name, order] of Object.entries(cases)) {
      const result = measureOnce(order);
      if (!best[name] || result.perSec > best[name].perSec) best[name] = result;
    }
  }
  return best;
}

/**
 * The HLC's work per message at a node: the receive rule for a peer's message, the send rule
 * for its own (one in eight here), each reading the physical clock as a node does
 * (Date.now() plus an offset). Best of RUNS, in ns per message.
 */
function measureHlc(messages: CausalMessage[]): number {
  const stamps: Hlc[] = [];
  const source = new HybridClock(() => Date.now());
  for (let i = 0; i < messages.length; i++) stamps.push(source.tick());
  let best = Infinity;
  for (let run = 0; run < RUNS; run++) {
    const offset = 1_234.5;
    const clock = new HybridClock(() => Date.now() + offset);
    const start = process.hrtime.bigint();
    let sum = 0;
    for (let i = 0; i < stamps.length; i++)
      sum += (i & 7) === 0 ? clock.tick().logical : clock.receive(stamps[i]).logical;
    const ns = Number(process.hrtime.bigint() - start) / stamps.length;
    if (sum < 0) throw new Error('unreachable');
    best = Math.min(best, ns);
  }
  return best;
}

function main(): void {
  const random = seededRandom(42);
  const inOrderArrival = history(random);
  const cases = {
    inOrder: inOrderArrival,
    window1k: shuffledWithin(inOrderArrival, 1_000, random),
    window10k: shuffledWithin(inOrderArrival, 10_000, random),
    release100k: heldThenReleased(inOrderArrival, 100_000),
  };
  const figures: Record<string, number> = {};
  const rows: string[] = [];
  for (const [name, { perSec, maxHeld }] of Object.entries(measure(cases))) {
    figures[name] = Math.round(perSec);
    rows.push(
      `${name.padEnd(12)} ${figures[name].toLocaleString('en-US').padStart(12)} deliveries/s   max held ${maxHeld}`,
    );
  }
  process.stdout.write(
    `CausalBuffer: ${SENDERS} senders, ${MESSAGES.toLocaleString('en-US')} messages, best of ${RUNS}\n`,
  );
  for (const row of rows) process.stdout.write(`${row}\n`);
  for (const name of ['window1k', 'window10k', 'release100k']) {
    process.stdout.write(`${name} / inOrder = ${(figures[name] / figures.inOrder).toFixed(2)}\n`);
  }
  const hlcNsPerMsg = measureHlc(inOrderArrival);
  const vectorNsPerMsg = 1e9 / figures.inOrder;
  process.stdout.write(
    `HLC per message ${hlcNsPerMsg.toFixed(1)} ns beside the vector clock's delivery ${vectorNsPerMsg.toFixed(1)} ns (${(hlcNsPerMsg / vectorNsPerMsg).toFixed(2)})\n`,
  );
  const rssMB = Math.round(process.memoryUsage().rss / 1048576);
  process.stdout.write(
    `${JSON.stringify({
      ...figures,
      hlcNsPerMsg: Math.round(hlcNsPerMsg * 10) / 10,
      vectorNsPerMsg: Math.round(vectorNsPerMsg * 10) / 10,
      senders: SENDERS,
      messages: MESSAGES,
      rssMB,
    })}\n`,
  );
}

main();
