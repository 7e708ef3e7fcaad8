import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChatMessage, HistoryPage } from '@app/contracts';
import { ROOT, waitUntil } from './support/cluster';
import { Supervisor } from './support/supervisor';
import { freePortBlock } from './support/ports';

jest.setTimeout(90_000);

describe('npm start (scripts/start.js)', () => {
  let dataDir: string;
  beforeEach(() => (dataDir = mkdtempSync(join(tmpdir(), 'npm-start-'))));
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('starts a node killed with -9 again; it keeps what it acknowledged and catches up', async () => {
    const basePort = await freePortBlock(30);
    const port = await freePortBlock(2);
    const supervisor = new Supervisor({
      CHAT_NODES: '3',
      CHAT_GATEWAYS: '2',
      CHAT_BASE_PORT: String(basePort),
      PORT: String(port),
      DATA_DIR: dataDir,
    });
    const url = `http://127.0.0.1:${port}`;
    const send = async (node: string, text: string) => {
      const response = await fetch(`${url}/nodes/${node}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text }),
      });
      expect(response.status).toBe(201);
      return (await response.json()) as ChatMessage;
    };
    const history = async (node: string): Promise<string[]> => {
      const response = await fetch(`${url}/nodes/${node}/messages?limit=100`);
      if (!response.ok) return [];
      return ((await response.json()) as HistoryPage).messages.map((m) => m.text);
    };
    try {
      await supervisor.waitFor(/Causal chat is running with 3 nodes/);
      const acked = await send('n1', 'acknowledged before the crash');
      expect(acked.id).toBe('n1:1');
      // CHAT_GATEWAYS=2: a second gateway on PORT+1 serves the same cluster.
      expect(supervisor.output).toContain(`http://127.0.0.1:${port + 1}/`);
      const second = await fetch(`http://127.0.0.1:${port + 1}/nodes/n1/messages?limit=10`);
      expect(((await second.json()) as HistoryPage).messages.map((m) => m.text)).toContain(
        'acknowledged before the crash',
      );

      const killed = supervisor.pid('n1');
      const mark = supervisor.output.length;
      process.kill(killed, 'SIGKILL');
      await supervisor.waitFor(/n1\s*\S*\| exited \(SIGKILL\); restarting in 1 s/, mark);
      await supervisor.waitFor(/n1\s*\S*\| started \(pid \d+\)/, mark);
      expect(supervisor.pid('n1')).not.toBe(killed);

      // sent while n1 is (re)starting: it must catch up on it
      await send('n0', 'sent while n1 was down');
      await waitUntil(
        async () => (await history('n1')).includes('sent while n1 was down'),
        30_000,
        'the restarted n1 caught up',
      );
      expect(await history('n1')).toContain('acknowledged before the crash');
      const after = await send('n1', 'n1 after its restart');
      expect(after.id).toBe('n1:2'); // its seq went on from the log: none reused
      await waitUntil(
        async () => (await history('n2')).includes('n1 after its restart'),
        30_000,
        'n2 has the restarted node’s message',
      );
      expect(await supervisor.stop()).toBe(0);
      expect(supervisor.output).toMatch(/stopping…/);
    } finally {
      await supervisor.stop();
    }
  });

  it('adds a node with npm run node:add, starts it again next time, and never again once retired', async () => {
    const basePort = await freePortBlock(50);
    const port = await freePortBlock(1);
    const env = {
      CHAT_NODES: '3',
      CHAT_BASE_PORT: String(basePort),
      PORT: String(port),
      DATA_DIR: dataDir,
    };
    const url = `http://127.0.0.1:${port}`;
    const nodes = async () =>
      (
        (await (await fetch(`${url}/nodes`)).json()) as {
          id: string;
          member: string;
          up: boolean;
        }[]
      )
        .filter((n) => n.up)
        .map((n) => `${n.id}:${n.member}`);
    const nodeAdd = (id: string) =>
      new Promise<{ code: number | null; output: string }>((resolve) => {
        const child = spawn(process.execPath, [join(ROOT, 'scripts/node-add.js'), id], {
          env: { ...process.env, DATA_DIR: dataDir },
        });
        let output = '';
        child.stdout.on('data', (c: Buffer) => (output += c.toString()));
        child.stderr.on('data', (c: Buffer) => (output += c.toString()));
        child.once('exit', (code) => resolve({ code, output }));
      });
    let supervisor = new Supervisor(env);
    try {
      await supervisor.waitFor(/Causal chat is running with 3 nodes/);
      await fetch(`${url}/nodes/n0/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'before n3' }),
      });
      const added = await nodeAdd('n3');
      expect(added.code).toBe(0);
      expect(added.output).toMatch(
        new RegExp(`added n3 at 127\\.0\\.0\\.1:${basePort + 30} \\(pid \\d+\\)`),
      );
      await supervisor.waitFor(/n3\s*\S*\| started \(pid \d+\)/);
      await waitUntil(async () => (await nodes()).includes('n3:active'), 30_000, 'n3 to join');
      const again = await nodeAdd('n3');
      expect(again.code).toBe(1);
      expect(again.output).toContain('n3 is already a process of this cluster');
      expect(await supervisor.stop()).toBe(0);

      // The next start starts n3 again, on its data: no second join.
      supervisor = new Supervisor(env);
      await supervisor.waitFor(/Causal chat is running with 4 nodes/);
      const history = await (await fetch(`${url}/nodes/n3/messages?limit=100`)).json();
      expect((history as HistoryPage).messages.map((m) => m.text)).toContain('before n3');

      const mark = supervisor.output.length;
      const retired = await fetch(`${url}/cluster/members/n3`, { method: 'DELETE' });
      expect(retired.status).toBe(200);
      await supervisor.waitFor(/n3\s*\S*\| retired from the cluster: not started again/, mark);
      await waitUntil(
        async () => !(await nodes()).some((n) => n.startsWith('n3')),
        10_000,
        'n3 gone',
      );
      expect(await supervisor.stop()).toBe(0);

      supervisor = new Supervisor(env);
      await supervisor.waitFor(/Causal chat is running with 3 nodes/);
      expect(supervisor.output).not.toMatch(/n3\s*\S*\| started/);
      expect(await nodes()).toEqual(['n0:active', 'n1:active', 'n2:active']);
    } finally {
      await supervisor.stop();
    }
  });

  it('stops everything when a process fails before the cluster is up, rather than retrying', async () => {
    const supervisor = new Supervisor({
      CHAT_NODES: '2',
      CHAT_BASE_PORT: String(await freePortBlock(20)),
      PORT: String(await freePortBlock(1)),
      DATA_DIR: dataDir,
      CHAT_LINK_DELAY_MS: 'soon',
    });
    try {
      expect(await supervisor.exited).toBe(1);
      expect(supervisor.output).toMatch(/CHAT_LINK_DELAY_MS/);
      expect(supervisor.output).toMatch(/exited \(code 2\) before the cluster was up; stopping/);
      expect(supervisor.output).not.toMatch(/restarting/);
    } finally {
      await supervisor.stop();
    }
  });
});
