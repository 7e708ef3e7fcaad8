import { createServer } from 'node:net';

async function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

const used = new Set<number>();

/** A base port with `span` free ports above it, not handed out before in this process. */
export async function freePortBlock(span: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 3_500) * 10;
    if (used.has(base)) continue;
    const ports = Array.from({ length: span }, (_, i) => base + i);
    if ((await Promise.all(ports.map(isFree))).every(Boolean)) {
      used.add(base);
      return base;
    }
  }
  throw new Error('no free port block found');
}
