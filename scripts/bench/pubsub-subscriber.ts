/**
 * Raw baseline for `npm run bench:cluster`: one zeromq.js SUB process that decodes every
 * JSON message it receives and reports, on stdout, how many it got and over what time.
 */
import { Subscriber } from 'zeromq';

async function main(): Promise<void> {
  const [endpoint, expectedText] = process.argv.slice(2);
  const expected = Number(expectedText);
  const sub = new Subscriber({ linger: 0, receiveHighWaterMark: 0 });
  sub.subscribe('');
  sub.connect(endpoint);
  process.stdout.write('ready\n');
  let count = 0;
  let first = 0n;
  for await (const [, payload] of sub) {
    const message = JSON.parse(payload.toString()) as { seq?: number };
    if (message.seq === undefined) continue; // warm-up ping
    if (count === 0) first = process.hrtime.bigint();
    if (++count === expected) break;
  }
  const seconds = Number(process.hrtime.bigint() - first) / 1e9;
  process.stdout.write(`${JSON.stringify({ count, seconds })}\n`);
  sub.close();
}

void main();
