import { ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { Dealer } from 'zeromq';
import { ensureClusterKeys, loadClusterKeys, NodeState, Requests } from '@app/contracts';
import { SocketWriter } from '@app/zmq-transport';

export const ROOT = resolve(__dirname, '..', '..');

/** The value after `--name` on the command line, if any. */
export const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

/** Starts a TypeScript script as its own process and resolves with its first stdout line. */
export async function startScript(
  script: string,
  args: string[] = [],
): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', script, ...args],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let buffered = '';
  const line = await new Promise<string>((resolveLine, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const newline = buffered.indexOf('\n');
      if (newline >= 0) resolveLine(buffered.slice(0, newline).trim());
    });
    child.once('exit', (code) =>
      reject(new Error(`${script} exited with ${code} before it was ready`)),
    );
  });
  return { child, line };
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Resident memory of a process, in MB, from /proc. */
export function rssMB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0; // the process is gone
  }
}

/** Samples the peak RSS of processes every `everyMs` until the returned function is called. */
export function watchPeakRss(pids: number[], everyMs = 250): () => number[] {
  const peak = pids.map(() => 0);
  const sample = () => pids.forEach((pid, i) => (peak[i] = Math.max(peak[i], rssMB(pid))));
  sample();
  const timer = setInterval(sample, everyMs);
  return () => {
    clearInterval(timer);
    sample();
    return peak.map((mb) => Math.round(mb));
  };
}

/** User + system CPU ms in a /proc `stat` line (of a process or of one of its threads). */
function statCpuMs(stat: string): number {
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in ticks
}

/** CPU time (user + system) a process has used so far, in ms, from /proc (0 once it is gone). */
export function cpuMs(pid: number): number {
  try {
    return statCpuMs(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return 0;
  }
}

/**
 * CPU ms per thread of a process, threads grouped by name ("main" is the JavaScript thread;
 * V8's GC helpers and libuv's pool are named "node", ZeroMQ's I/O thread "ZMQbg/IO/0").
 */
export function threadCpuMs(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const task of tasks) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8');
      const name =
        task === String(pid) ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      out[name] = (out[name] ?? 0) + statCpuMs(stat);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

/** Extra node flags for the processes a bench starts, e.g. BENCH_NODE_ARGS=--cpu-prof. */
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
/** Extra node flags for the gateway only, e.g. BENCH_GATEWAY_ARGS="--cpu-prof --cpu-prof-dir=prof". */
const GATEWAY_ARGS = (process.env.BENCH_GATEWAY_ARGS ?? '').split(' ').filter(Boolean);

/** The name under which a bench's load generator holds a key (admitted like a gateway). */
export const BENCH_KEY = 'bench';

/**
 * CURVE keys for a bench cluster of `ids` under `dataDir`/keys (its gateway and the load
 * generator included): the directory to give the processes, and the generator's socket options
 * towards each node. `false` runs the cluster in plaintext, as CHAT_CURVE=off does.
 */
export function benchKeys(dataDir: string, ids: readonly string[], curve = true) {
  if (!curve) return { dir: undefined, toNode: () => ({}) };
  const dir = join(dataDir, 'keys');
  ensureClusterKeys(dir, [...ids, 'gateway', BENCH_KEY]);
  const keys = loadClusterKeys({ CHAT_KEYS_DIR: dir }, BENCH_KEY, ids)!;
  return {
    dir,
    /** zeromq.js options of a CURVE client socket to node `id`. */
    toNode: (id: string) => ({
      curveServerKey: keys.publicKeys[id],
      curvePublicKey: keys.self.publicKey,
      curveSecretKey: keys.self.secretKey,
    }),
  };
}

const keysEnv = (keysDir: string | undefined) =>
  keysDir ? { CHAT_KEYS_DIR: keysDir } : { CHAT_CURVE: 'off' };

/** Starts one compiled chat-node process (link simulation off) of a bench cluster. */
export function spawnNode(
  id: string,
  members: string,
  dataDir: string,
  stdio: 'ignore' | 'inherit-errors' = 'ignore',
  keysDir?: string,
): ChildProcess {
  return spawn(
    process.execPath,
    [...NODE_ARGS, join(ROOT, 'dist/apps/chat-node/apps/chat-node/src/main.js')],
    {
      env: {
        ...process.env,
        ...keysEnv(keysDir),
        CHAT_NODE_ID: id,
        CHAT_MEMBERS: members,
        DATA_DIR: dataDir,
        CHAT_LINK_DELAY_MS: '0',
        CHAT_LINK_JITTER_MS: '0',
      },
      stdio: stdio === 'ignore' ? 'ignore' : ['ignore', 'ignore', 'inherit'],
    },
  );
}

/** Starts the compiled gateway on `port`, rate limiting off. */
export function spawnGateway(members: string, port: number, keysDir?: string): ChildProcess {
  return spawn(
    process.execPath,
    [...NODE_ARGS, ...GATEWAY_ARGS, join(ROOT, 'dist/apps/gateway/apps/gateway/src/main.js')],
    {
      env: {
        ...process.env,
        ...keysEnv(keysDir),
        CHAT_MEMBERS: members,
        PORT: String(port),
        GATEWAY_RATE_LIMIT: '0',
      },
      stdio: 'ignore',
    },
  );
}

/**
 * A load generator's request socket: the wire packets ZmqClient sends (`{pattern, data, id}`
 * on a DEALER, replies matched by id), without the Nest ClientProxy, rxjs and timeouts
 * around them. A bench that measures the nodes uses it so the generator, which shares the
 * two cores, costs as little as it can; bench:transport measures ZmqClient itself.
 */
export class LeanRequester {
  private readonly dealer: Dealer;
  private readonly writer: SocketWriter;
  private readonly pending = new Map<
    string,
    { resolve: (response: unknown) => void; reject: (error: Error) => void }
  >();
  private next = 0;
  private readonly loop: Promise<void>;

  /** `curve`: zeromq.js CURVE client options (see benchKeys), or none for plaintext. */
  constructor(endpoint: string, curve: object = {}) {
    this.dealer = new Dealer({ linger: 0, sendHighWaterMark: 0, ...curve });
    this.writer = new SocketWriter(this.dealer, (error) => this.failAll(error), { envelope: 0 });
    this.dealer.connect(endpoint);
    this.loop = this.readReplies();
  }

  request<T>(pattern: string, data: unknown): Promise<T> {
    const id = String(++this.next);
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (response: unknown) => void, reject });
      this.writer.write([JSON.stringify({ pattern, data, id })]);
    });
  }

  async close(): Promise<void> {
    this.dealer.close();
    await this.loop.catch(() => undefined);
    this.failAll(new Error('closed'));
  }

  private failAll(error: unknown): void {
    for (const { reject } of this.pending.values()) reject(error as Error);
    this.pending.clear();
  }

  private async readReplies(): Promise<void> {
    for await (const frames of this.dealer) {
      for (const frame of frames) {
        const packet = JSON.parse(frame.toString()) as {
          id: string;
          response?: unknown;
          err?: unknown;
        };
        const call = this.pending.get(packet.id);
        if (!call) continue;
        this.pending.delete(packet.id);
        if (packet.err !== undefined) call.reject(new Error(JSON.stringify(packet.err)));
        else call.resolve(packet.response);
      }
    }
  }
}

/**
 * Originates `total` messages spread evenly over `clients` (one per node), `inFlight`
 * requests in flight per node, and returns once each of those nodes has delivered all of them.
 */
export async function originateAll(
  clients: readonly LeanRequester[],
  total: number,
  label: string,
  inFlight: number,
): Promise<void> {
  const state = (client: LeanRequester) => client.request<NodeState>(Requests.state, {});
  const before = await Promise.all(clients.map(state));
  const perNode = total / clients.length;
  await Promise.all(
    clients.map(async (client, n) => {
      let issued = 0;
      await Promise.all(
        Array.from({ length: inFlight }, async () => {
          while (issued < perNode) {
            issued++;
            await client.request(Requests.send, { text: `n${n} ${label} message ${issued}` });
          }
        }),
      );
    }),
  );
  for (;;) {
    const states = await Promise.all(clients.map(state));
    if (states.every((s, i) => s.lastIndex >= before[i].lastIndex + total)) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
