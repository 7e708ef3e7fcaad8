import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { lastValueFrom } from 'rxjs';
import { checkCausalDelivery, VectorClock } from '@app/causal';
import {
  ChatMessage,
  ClusterKeys,
  curveClient,
  ensureClusterKeys,
  HistoryPage,
  LinkSettings,
  loadClusterKeys,
  NodeState,
  Requests,
} from '@app/contracts';
import { ZmqClient } from '@app/zmq-transport';
import { freePortBlock } from './ports';

export const ROOT = resolve(__dirname, '..', '..');
export const NODE_MAIN = join(ROOT, 'dist/apps/chat-node/apps/chat-node/src/main.js');
export const GATEWAY_MAIN = join(ROOT, 'dist/apps/gateway/apps/gateway/src/main.js');

export interface ClusterOptions {
  readonly nodes?: number;
  readonly env?: Record<string, string>;
  /** Extra member slots the test plays itself (e.g. a hostile peer). */
  readonly impostors?: number;
  /** CURVE on the links, as users run it (default); false runs them in plaintext. */
  readonly curve?: boolean;
  /** Slots (ports, keys) for nodes that join later: not in CHAT_MEMBERS. */
  readonly spare?: number;
}

/** The name of the key the test harness's own clients use (admitted like a gateway). */
export const OPERATOR_KEY = 'operator';

/** A cluster of real chat-node processes on loopback, with a request client per node. */
/** Polls `condition` every 50 ms until it holds; throws naming `what` after `ms`. */
export async function waitUntil(
  condition: () => Promise<boolean> | boolean,
  ms: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export class TestCluster {
  readonly ids: string[];
  readonly dataDir: string;
  readonly processes = new Map<string, ChildProcess>();
  readonly clients = new Map<string, ZmqClient>();
  readonly logs = new Map<string, string[]>();
  /** Where the cluster's CURVE keys are; undefined when it runs in plaintext. */
  readonly keysDir?: string;
  /** Nodes started with CHAT_JOIN -> the member they joined through. */
  readonly joiners = new Map<string, string>();
  private readonly env: Record<string, string>;
  private constructor(
    readonly members: string,
    readonly base: number,
    readonly all: string[],
    readonly count: number,
    env: Record<string, string>,
    curve: boolean,
  ) {
    this.ids = all.slice(0, count);
    this.dataDir = mkdtempSync(join(tmpdir(), 'causal-chat-'));
    if (curve) {
      this.keysDir = join(this.dataDir, 'keys');
      ensureClusterKeys(this.keysDir, [...all, 'gateway', 'gateway2', OPERATOR_KEY]);
    }
    this.env = { ...(curve ? { CHAT_KEYS_DIR: this.keysDir! } : { CHAT_CURVE: 'off' }), ...env };
  }

  /** The CURVE keys as process `name` of this cluster holds them. */
  keys(name: string): ClusterKeys {
    if (!this.keysDir) throw new Error('this cluster runs without CURVE');
    return loadClusterKeys({ CHAT_KEYS_DIR: this.keysDir }, name, [])!;
  }

  /** A request client to node `id`, as the test harness (the operator key). */
  client(id: string, options: { timeoutMs?: number; connectTimeoutMs?: number } = {}): ZmqClient {
    return new ZmqClient({
      connect: this.rpc(id),
      timeoutMs: options.timeoutMs ?? 3000,
      connectTimeoutMs: options.connectTimeoutMs ?? 500,
      curve: this.keysDir ? curveClient(this.keys(OPERATOR_KEY), id) : undefined,
    });
  }

  static async start(options: ClusterOptions = {}): Promise<TestCluster> {
    const count = options.nodes ?? 3;
    const total = count + (options.impostors ?? 0);
    const base = await freePortBlock((total + (options.spare ?? 0)) * 10);
    const all = Array.from({ length: total + (options.spare ?? 0) }, (_, i) => `n${i}`);
    const members = all
      .slice(0, total)
      .map((id, i) => `${id}=127.0.0.1:${base + 10 * i}`)
      .join(',');
    const cluster = new TestCluster(
      members,
      base,
      all,
      count,
      {
        CHAT_LINK_DELAY_MS: '0',
        CHAT_LINK_JITTER_MS: '0',
        CHAT_HEARTBEAT_MS: '150',
        CHAT_REPAIR_MS: '100',
        CHAT_REQUEST_TIMEOUT_MS: '1000',
        ...options.env,
      },
      options.curve ?? true,
    );
    await Promise.all(cluster.ids.map((id) => cluster.startNode(id)));
    await cluster.waitForMesh();
    return cluster;
  }

  /**
   * Waits until every node has heard a heartbeat from every other started node: its SUB
   * sockets are connected, so a message published from now on reaches it live. (PUB/SUB
   * drops what is published before a subscriber joins; the nodes repair that, but a test
   * that slows repair down on purpose must not start before the mesh is up.)
   */
  async waitForMesh(ms = 15_000): Promise<void> {
    const started = new Set(this.ids);
    await this.waitUntil(
      async () => {
        const states = await Promise.all(this.ids.map((id) => this.tryState(id)));
        return states.every(
          (s) => s !== undefined && s.peers.every((p) => !started.has(p.id) || p.reachable),
        );
      },
      ms,
      'every node to hear every peer',
    );
  }

  rpc(id: string): string {
    return `tcp://127.0.0.1:${this.base + 10 * this.all.indexOf(id)}`;
  }

  pub(id: string): string {
    return `tcp://127.0.0.1:${this.base + 10 * this.all.indexOf(id) + 1}`;
  }

  /** Starts the gateway process for this cluster; resolves with its base URL. */
  /** Starts a gateway process named `name` (its key pair, GATEWAY_ID): 'gateway' or 'gateway2'. */
  async startGateway(extraEnv: Record<string, string> = {}, name = 'gateway'): Promise<string> {
    const port = await freePortBlock(1);
    const child = spawn(process.execPath, [GATEWAY_MAIN], {
      env: {
        ...process.env,
        ...(this.keysDir ? { CHAT_KEYS_DIR: this.keysDir } : { CHAT_CURVE: 'off' }),
        CHAT_MEMBERS: this.members,
        PORT: String(port),
        GATEWAY_RATE_LIMIT: '0',
        GATEWAY_ID: name,
        ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const log: string[] = [];
    this.logs.set(name, log);
    child.stdout!.on('data', (chunk: Buffer) => log.push(chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => log.push(chunk.toString()));
    this.processes.set(name, child);
    const url = `http://127.0.0.1:${port}`;
    await this.waitUntil(
      async () => {
        try {
          return (await fetch(`${url}/nodes`)).ok;
        } catch {
          return false;
        }
      },
      15_000,
      'the gateway to start',
    );
    return url;
  }

  /** `host:port` of node `id`'s ROUTER. */
  address(id: string): string {
    return this.rpc(id).replace('tcp://', '');
  }

  /** The public key of process `name` (Z85), or undefined without CURVE. */
  publicKey(name: string): string | undefined {
    return this.keysDir ? this.keys(name).publicKeys[name] : undefined;
  }

  /** Asks member `via` to admit spare slot `id` (address and key as the harness made them). */
  admit(id: string, via: string): Promise<unknown> {
    const publicKey = this.publicKey(id);
    return this.request(via, Requests.admit, {
      id,
      address: this.address(id),
      ...(publicKey ? { publicKey } : {}),
    });
  }

  /** Starts spare slot `id` as a joiner through member `via`; it then counts as one of `ids`. */
  async startJoiner(id: string, via: string, extraEnv: Record<string, string> = {}): Promise<void> {
    this.joiners.set(id, via);
    await this.startNode(id, extraEnv);
    if (!this.ids.includes(id)) this.ids.push(id);
  }

  /** Spawns node `id` (a joiner's restart joins the same way) without waiting for it. */
  spawnNode(id: string, extraEnv: Record<string, string> = {}): ChildProcess {
    const seed = String(1000 + this.all.indexOf(id));
    const via = this.joiners.get(id);
    const membership: Record<string, string> = via
      ? {
          CHAT_JOIN: this.address(via),
          CHAT_NODE_ADDRESS: this.address(id),
          ...(this.keysDir ? { CHAT_JOIN_KEY: this.publicKey(via)! } : {}),
        }
      : { CHAT_MEMBERS: this.members };
    const child = spawn(process.execPath, [NODE_MAIN], {
      env: {
        ...process.env,
        ...this.env,
        ...membership,
        ...extraEnv,
        CHAT_NODE_ID: id,
        DATA_DIR: this.dataDir,
        CHAT_SEED: seed,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const log = this.logs.get(id) ?? [];
    this.logs.set(id, log);
    child.stdout!.on('data', (chunk: Buffer) => log.push(chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => log.push(chunk.toString()));
    this.processes.set(id, child);
    if (!this.clients.has(id)) this.clients.set(id, this.client(id));
    return child;
  }

  async startNode(id: string, extraEnv: Record<string, string> = {}): Promise<void> {
    const child = this.spawnNode(id, extraEnv);
    await this.waitUntil(
      async () => {
        if (child.exitCode !== null)
          throw new Error(`${id} exited with ${child.exitCode}: ${this.logs.get(id)?.join('')}`);
        return (await this.tryState(id)) !== undefined;
      },
      // A joiner answers once it has its grant, which may wait for the admission to arrive.
      this.joiners.has(id) ? 45_000 : 15_000,
      `${id} to start`,
    );
  }

  /** The exit code of node `id` once its process has ended (null if a signal ended it). */
  async exitCode(id: string): Promise<number | null> {
    const child = this.processes.get(id)!;
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    return child.exitCode;
  }

  /** kill -9: no chance to flush anything. */
  async kill(id: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.processes.get(id);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    await once(child, 'exit');
  }

  request<T>(id: string, pattern: string, data: unknown = {}): Promise<T> {
    return lastValueFrom(this.clients.get(id)!.send<T>(pattern, data));
  }

  send(id: string, text: string, author?: string): Promise<ChatMessage> {
    return this.request<ChatMessage>(id, Requests.send, author ? { text, author } : { text });
  }

  state(id: string): Promise<NodeState> {
    return this.request<NodeState>(id, Requests.state);
  }

  async tryState(id: string): Promise<NodeState | undefined> {
    try {
      return await this.state(id);
    } catch {
      return undefined;
    }
  }

  /** The node's whole delivery log, page by page. */
  async history(id: string): Promise<ChatMessage[]> {
    const out: ChatMessage[] = [];
    for (;;) {
      const page = await this.request<HistoryPage>(id, Requests.history, {
        after: out.length ? out[out.length - 1].index : 0,
        limit: 1000,
      });
      out.push(...page.messages);
      if (page.messages.length < 1000) return out;
    }
  }

  setLink(to: string, from: string, settings: Partial<LinkSettings>): Promise<unknown> {
    return this.request(to, Requests.networkSet, { from, settings });
  }

  async setAllLinks(settings: Partial<LinkSettings>): Promise<void> {
    for (const to of this.ids)
      for (const from of this.ids) if (from !== to) await this.setLink(to, from, settings);
  }

  /** Cuts every link into and out of `id`, or restores them. */
  async partition(id: string, partitioned: boolean): Promise<void> {
    for (const other of this.ids) {
      if (other === id) continue;
      await this.setLink(id, other, { partitioned });
      await this.setLink(other, id, { partitioned });
    }
  }

  waitUntil(condition: () => Promise<boolean> | boolean, ms: number, what: string) {
    return waitUntil(condition, ms, what);
  }

  /**
   * Waits until the cluster is quiet and agrees: every node has delivered at least
   * `atLeast` messages, nothing is held back, and all clocks are equal. Returns each log.
   */
  async converge(atLeast: number, ms = 30_000): Promise<Map<string, ChatMessage[]>> {
    await this.waitUntil(
      async () => {
        const states = await Promise.all(this.ids.map((id) => this.tryState(id)));
        if (states.some((s) => !s || s.lastIndex < atLeast || s.buffered.length > 0)) return false;
        const clocks = states.map((s) => JSON.stringify(s!.clock));
        return clocks.every((c) => c === clocks[0]);
      },
      ms,
      `every node to deliver the same ${atLeast}+ messages`,
    );
    const logs = new Map<string, ChatMessage[]>();
    for (const id of this.ids) logs.set(id, await this.history(id));
    return logs;
  }

  async stop(): Promise<void> {
    for (const client of this.clients.values()) await client.close();
    await Promise.all([...this.processes.keys()].map((id) => this.kill(id, 'SIGTERM')));
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** The checker's view of a delivery log. */
export const checked = (messages: ChatMessage[]) =>
  messages.map((m) => ({ sender: m.sender, seq: m.seq, clock: VectorClock.of(m.clock) }));

/**
 * Every log is a causal delivery order, and holds everything acknowledged (the checker), and
 * all logs hold the same set of messages.
 */
export function expectCausalAndComplete(
  logs: Map<string, ChatMessage[]>,
  acknowledged: ChatMessage[],
): void {
  const report = checkCausalDelivery({
    deliveries: Object.fromEntries([...logs].map(([id, log]) => [id, checked(log)])),
    acknowledged,
  });
  expect(report.violations).toEqual([]);
  const [first] = logs.values();
  for (const log of logs.values())
    expect(new Set(log.map((m) => m.id))).toEqual(new Set(first.map((m) => m.id)));
}
