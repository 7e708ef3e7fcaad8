import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

async function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * The first port of the kernel's ephemeral range. Blocks are handed out below it: a port
 * the kernel gives to `bind(0)` (a `tcp://…:*` endpoint, an outgoing connection) is then
 * never one a test expects to be free, nor one it just freed and expects to stay down.
 */
function ephemeralStart(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0]);
  } catch {
    return 32_768;
  }
}

const used = new Set<number>();
const LOW = 20_000;

/** A base port with `span` free ports above it, none of them handed out before in this process. */
export async function freePortBlock(span: number): Promise<number> {
  const high = Math.max(LOW + 1_000, ephemeralStart()) - span;
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = LOW + Math.floor((Math.random() * (high - LOW)) / 10) * 10;
    const ports = Array.from({ length: span }, (_, i) => base + i);
    if (ports.some((port) => used.has(port))) continue;
    if ((await Promise.all(ports.map(isFree))).every(Boolean)) {
      for (const port of ports) used.add(port);
      return base;
    }
  }
  throw new Error('no free port block found');
}
