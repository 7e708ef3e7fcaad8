/**
 * Raw baseline for `npm run bench:cluster`: one zeromq.js SUB process that decodes every
 * JSON message it receives and reports, on stdout, how many it got and over what time.
 */
import { Subscriber } from 'zeromq';

async function main(): Promise<void> {
  const [endpoint, expectedText] = process.argv.slice(2);
  const expected = Number(expectedText);
  const sub = new Subscriber({ linger: 0, receiveHighWaterMark: 0, receiveTimeout: 3000 });
  sub.subscribe('');
  sub.connect(endpoint);
  process.stdout.write('ready\n');
  let count = 0;
  let first = 0n;
  let last = 0n;
  // Stops at the expected count, or after 3 s of silence (then reports what arrived).
  while (count < expected) {
    let payload: Buffer;
    try {
      [, payload] = await sub.receive();
    } catch {
      break;
    }
    const message = JSON.parse(payload.toString()) as { data?: { seq?: number } };
    if (message.data?.seq === undefined) continue; // warm-up ping
    last = process.hrtime.bigint();
    if (count++ === 0) first = last;
  }
  const seconds = Number(last - first) / 1e9;
  process.stdout.write(`${JSON.stringify({ count, seconds })}\n`);
  sub.close();
}

void main();
