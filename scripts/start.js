#!/usr/bin/env node
/**
 * npm start — a local cluster in one command: builds if needed, starts CHAT_NODES chat-node
 * processes (default 3) and CHAT_GATEWAYS gateways (default 1; the first on PORT, the next
 * on PORT+1, …) on loopback with data under ./data, waits until all answer, prints the URLs. Ctrl-C (or SIGTERM) stops every process; a second start resumes
 * with the same data.
 *
 * Once the cluster has been healthy, a process that exits on its own (a crash, kill -9, a
 * node that stopped after a storage failure) is started again, as docker-compose's
 * `restart: unless-stopped` does: after 1 s, doubling up to 30 s while it keeps exiting
 * within 30 s of its start. A node restarted on its data catches up from its peers. A
 * process that exits before the cluster was first healthy (bad configuration, a corrupt data
 * file) stops everything: starting it again would only repeat the error.
 *
 * The links are encrypted: on first start each process gets a CURVE key pair under
 * ./data/keys (secret keys mode 0600), and every process is given that directory.
 * CHAT_CURVE=off runs them unencrypted, and each process says so.
 */
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const { existsSync, mkdirSync, statSync, readdirSync } = require('node:fs');
const net = require('node:net');
const { join } = require('node:path');

const root = join(__dirname, '..');
const nodeMain = join(root, 'dist/apps/chat-node/apps/chat-node/src/main.js');
const gatewayMain = join(root, 'dist/apps/gateway/apps/gateway/src/main.js');
const count = Number(process.env.CHAT_NODES ?? 3);
const gatewayCount = Number(process.env.CHAT_GATEWAYS ?? 1);
const port = Number(process.env.PORT ?? 3000);
const basePort = Number(process.env.CHAT_BASE_PORT ?? 7100);
const dataDir = process.env.DATA_DIR ?? join(root, 'data');
const keysDir = process.env.CHAT_KEYS_DIR ?? join(dataDir, 'keys');
const curve = (process.env.CHAT_CURVE ?? 'on').toLowerCase() !== 'off';
const colors = [36, 33, 35, 32, 34, 31, 96, 93];

function fail(message) {
  process.stderr.write(`npm start: ${message}\n`);
  process.exit(1);
}

if (!Number.isInteger(count) || count < 1 || count > 16)
  fail(`CHAT_NODES must be 1..16, got "${process.env.CHAT_NODES}"`);
if (!Number.isInteger(gatewayCount) || gatewayCount < 1 || gatewayCount > 8)
  fail(`CHAT_GATEWAYS must be 1..8, got "${process.env.CHAT_GATEWAYS}"`);
/** Gateway i's name (its key pair and GATEWAY_ID) and port. */
const gateways = Array.from({ length: gatewayCount }, (_, i) => ({
  name: i === 0 ? 'gateway' : `gateway${i + 1}`,
  port: port + i,
}));
if (!existsSync(join(root, 'node_modules'))) fail('dependencies are missing: run `npm ci` first');

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function buildIfNeeded() {
  const built = existsSync(nodeMain) && existsSync(gatewayMain);
  const stale =
    built &&
    Math.max(newestSource(join(root, 'apps')), newestSource(join(root, 'libs'))) >
      Math.min(statSync(nodeMain).mtimeMs, statSync(gatewayMain).mtimeMs);
  if (built && !stale) return;
  process.stdout.write(built ? 'sources changed: rebuilding…\n' : 'first start: building…\n');
  const result = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) fail('the build failed (see above)');
}

function portFree(p) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(p, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** name, script, env, color; child and the restart state while it runs */
const services = [];
let stopping = false;
let healthy = false;
const FIRST_RESTART_MS = 1000;
const MAX_RESTART_MS = 30_000;

function launch(service) {
  const child = spawn(process.execPath, [service.script], {
    cwd: root,
    env: { ...process.env, ...service.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  service.child = child;
  service.startedAt = Date.now();
  const prefix = `\x1b[${service.color}m${service.name.padEnd(8)}\x1b[0m| `;
  process.stdout.write(`${prefix}started (pid ${child.pid})\n`);
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream.on('data', (chunk) => {
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop();
      for (const line of lines) process.stdout.write(prefix + line + '\n');
    });
  }
  child.on('exit', (code, signal) => {
    if (stopping) return;
    const how = signal ?? `code ${code}`;
    if (!healthy) {
      process.stdout.write(`${prefix}exited (${how}) before the cluster was up; stopping\n`);
      stop(1);
      return;
    }
    // A process that ran a while gets the first delay again; one that keeps failing waits longer.
    const ranMs = Date.now() - service.startedAt;
    service.delay =
      ranMs >= MAX_RESTART_MS || !service.delay
        ? FIRST_RESTART_MS
        : Math.min(service.delay * 2, MAX_RESTART_MS);
    process.stdout.write(`${prefix}exited (${how}); restarting in ${service.delay / 1000} s\n`);
    service.timer = setTimeout(() => {
      service.timer = undefined;
      if (!stopping) launch(service);
    }, service.delay);
  });
}

function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  process.stdout.write('\nstopping…\n');
  for (const service of services) clearTimeout(service.timer);
  const running = services.map((s) => s.child).filter((c) => c && c.exitCode === null);
  for (const child of running) child.kill('SIGTERM');
  const force = setTimeout(() => {
    for (const child of running) if (child.exitCode === null) child.kill('SIGKILL');
  }, 5000);
  Promise.all(
    running.map((c) => (c.exitCode !== null ? null : new Promise((r) => c.once('exit', r)))),
  ).then(() => {
    clearTimeout(force);
    process.exit(code);
  });
}

async function waitReady(url, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url);
      if (response.ok) return true;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

async function main() {
  buildIfNeeded();
  const ports = [
    ...gateways.map((g) => g.port),
    ...Array.from({ length: count }, (_, i) => [basePort + 10 * i, basePort + 10 * i + 1]).flat(),
  ];
  for (const p of ports) {
    if (!(await portFree(p)))
      fail(`port ${p} is in use: stop what uses it, or set PORT / CHAT_BASE_PORT`);
  }
  mkdirSync(dataDir, { recursive: true });
  const ids = Array.from({ length: count }, (_, i) => `n${i}`);
  const keysEnv = curve ? { CHAT_KEYS_DIR: keysDir } : {};
  if (curve) {
    // The compiled contracts library: the same code the processes load the keys with.
    const { ensureClusterKeys } = require(join(root, 'dist/apps/chat-node/libs/contracts/src'));
    const created = ensureClusterKeys(keysDir, [...ids, ...gateways.map((g) => g.name)]);
    if (created.length > 0)
      process.stdout.write(`made CURVE keys for ${created.join(', ')} in ${keysDir}\n`);
  }
  const members = Array.from(
    { length: count },
    (_, i) => `n${i}=127.0.0.1:${basePort + 10 * i}`,
  ).join(',');
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));
  for (let i = 0; i < count; i++) {
    services.push({
      name: `n${i}`,
      script: nodeMain,
      env: { CHAT_NODE_ID: `n${i}`, CHAT_MEMBERS: members, DATA_DIR: dataDir, ...keysEnv },
      color: colors[i % colors.length],
    });
  }
  for (const gateway of gateways)
    services.push({
      name: gateway.name,
      script: gatewayMain,
      env: {
        CHAT_MEMBERS: members,
        PORT: String(gateway.port),
        GATEWAY_ID: gateway.name,
        ...keysEnv,
      },
      color: 37,
    });
  for (const service of services) launch(service);
  const urls = gateways.map((g) => `http://127.0.0.1:${g.port}`);
  const url = urls[0];
  const ready = await Promise.all(urls.map((u) => waitReady(`${u}/health`, 30_000)));
  if (!ready.every(Boolean)) {
    process.stdout.write('the cluster did not become healthy within 30 s (see the logs above)\n');
    stop(1);
    return;
  }
  healthy = true;
  process.stdout.write(
    `\n  Causal chat is running with ${count} nodes (data in ${dataDir}; links ${curve ? 'encrypted with CURVE' : 'NOT encrypted: CHAT_CURVE=off'})\n  UI:       ${urls.map((u) => `${u}/`).join('  ')}\n  OpenAPI:  ${url}/docs\n  A process that exits is started again; Ctrl-C stops everything.\n\n`,
  );
}

main().catch((error) => fail(error.stack ?? String(error)));
