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
 *
 * The membership can change while it runs. `npm run node:add -- <id>` (or the UI's "add
 * node") asks this launcher, over a loopback control endpoint whose address and token it
 * writes to ./data/launcher.json, to add a node: it makes the node's keys, admits it through
 * the gateway, and starts it with CHAT_JOIN under the same supervision. A node that exits
 * with code 10 was retired: it is not started again. ./data/cluster.json remembers the
 * added and the retired nodes, so the next start starts the same cluster.
 */
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const {
  existsSync,
  mkdirSync,
  statSync,
  readdirSync,
  readFileSync,
  writeFileSync,
  rmSync,
} = require('node:fs');
const http = require('node:http');
const { randomBytes } = require('node:crypto');
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

/** name, script, env, color, node (true for chat nodes); child and the restart state while it runs */
const services = [];
/** The exit code of a node that was retired: never started again. */
const RETIRED_EXIT = 10;
const clusterFile = join(dataDir, 'cluster.json');
const launcherFile = join(dataDir, 'launcher.json');
/** Nodes added while running ({id, port}) and retired ones: the next start starts the same cluster. */
let cluster = { added: [], retired: [] };
const ID_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;

function loadCluster() {
  if (!existsSync(clusterFile)) return;
  try {
    const saved = JSON.parse(readFileSync(clusterFile, 'utf8'));
    cluster = {
      added: Array.isArray(saved.added) ? saved.added : [],
      retired: Array.isArray(saved.retired) ? saved.retired : [],
    };
  } catch (error) {
    fail(`${clusterFile} is not valid JSON (${error.message}): fix or remove it`);
  }
}

function saveCluster() {
  writeFileSync(clusterFile, `${JSON.stringify(cluster, null, 2)}\n`);
}
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
    if (code === RETIRED_EXIT && service.node) {
      process.stdout.write(
        `${prefix}retired from the cluster: not started again (its data stays)\n`,
      );
      services.splice(services.indexOf(service), 1);
      cluster.retired = [...new Set([...cluster.retired, service.name])];
      cluster.added = cluster.added.filter((n) => n.id !== service.name);
      saveCluster();
      return;
    }
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
  if (control) control.close();
  rmSync(launcherFile, { force: true });
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

/** A chat node's service: founding nodes get CHAT_MEMBERS, added ones join through a member. */
function nodeService(id, env, index) {
  return {
    name: id,
    node: true,
    script: nodeMain,
    env: { CHAT_NODE_ID: id, DATA_DIR: dataDir, ...keysEnv, ...env },
    color: colors[index % colors.length],
  };
}

let keysEnv = {};
let control;
let founding = '';
let gatewayUrls = [];

function publicKeyOf(id) {
  return curve ? readFileSync(join(keysDir, `${id}.pub`), 'utf8').trim() : undefined;
}

/** Env of a node that joins through `via` (a member id and port). */
function joinEnv(id, nodePort, via) {
  return {
    CHAT_JOIN: `127.0.0.1:${via.port}`,
    CHAT_NODE_ADDRESS: `127.0.0.1:${nodePort}`,
    ...(curve ? { CHAT_JOIN_KEY: publicKeyOf(via.id) } : {}),
  };
}

/** The ports of every node this launcher knows (running or retired). */
function usedNodePorts() {
  return [
    ...Array.from({ length: count }, (_, i) => basePort + 10 * i),
    ...cluster.added.map((n) => n.port),
  ];
}

/** A member to join through: the first running node that is not being added. */
function sponsor(except) {
  const service = services.find((s) => s.node && s.name !== except && s.child?.exitCode === null);
  if (!service) return undefined;
  return { id: service.name, port: Number(service.port) };
}

async function gatewayRequest(method, path, body) {
  const headers = body ? { 'content-type': 'application/json' } : {};
  const token = process.env.GATEWAY_ADMIN_TOKEN;
  if (token && token !== 'none') headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${gatewayUrls[0]}${path}`, {
    method,
    headers,
    body: body ? JSON.stringify(body) : undefined,
  });
  const answer = await response.json().catch(() => ({}));
  return { status: response.status, answer };
}

/** Adds node `id`: keys, admission through the gateway, a supervised process that joins. */
async function addNode(id) {
  if (typeof id !== 'string' || !ID_PATTERN.test(id))
    return [400, { message: 'id must be a letter then up to 31 letters, digits, _ or -' }];
  if (services.some((s) => s.name === id) || cluster.retired.includes(id))
    return [
      409,
      {
        message: `${id} is already ${cluster.retired.includes(id) ? 'retired (an id is never reused)' : 'a process of this cluster'}`,
      },
    ];
  const via = sponsor(id);
  if (!via) return [503, { message: 'no running node to join through' }];
  let nodePort = basePort + 10 * count;
  while (
    usedNodePorts().includes(nodePort) ||
    !(await portFree(nodePort)) ||
    !(await portFree(nodePort + 1))
  )
    nodePort += 10;
  if (curve) {
    const { ensureClusterKeys } = require(join(root, 'dist/apps/chat-node/libs/contracts/src'));
    ensureClusterKeys(keysDir, [id]);
  }
  const address = `127.0.0.1:${nodePort}`;
  const admitted = await gatewayRequest('POST', '/cluster/members', {
    id,
    address,
    ...(curve ? { publicKey: publicKeyOf(id) } : {}),
  });
  if (admitted.status >= 300) return [admitted.status, admitted.answer];
  cluster.added.push({ id, port: nodePort });
  saveCluster();
  const service = nodeService(id, joinEnv(id, nodePort, via), services.length);
  service.port = nodePort;
  services.push(service);
  launch(service);
  return [201, { id, address, pid: service.child.pid }];
}

function startControl() {
  const token = randomBytes(24).toString('hex');
  control = http.createServer((request, response) => {
    const answer = (status, body) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (request.headers.authorization !== `Bearer ${token}`)
      return answer(401, { message: 'the launcher needs its token (see data/launcher.json)' });
    if (request.method !== 'POST' || request.url !== '/nodes')
      return answer(404, { message: 'POST /nodes {id} is all the launcher does' });
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
      if (body.length > 4096) request.destroy();
    });
    request.on('end', () => {
      let id;
      try {
        id = JSON.parse(body || '{}').id;
      } catch {
        return answer(400, { message: 'the body must be JSON {id}' });
      }
      addNode(id).then(
        ([status, result]) => answer(status, result),
        (error) => answer(500, { message: String(error && error.message) }),
      );
    });
  });
  return new Promise((resolve) =>
    control.listen(0, '127.0.0.1', () => {
      const url = `http://127.0.0.1:${control.address().port}`;
      writeFileSync(launcherFile, `${JSON.stringify({ url, token, pid: process.pid })}\n`, {
        mode: 0o600,
      });
      resolve({ url, token });
    }),
  );
}

async function main() {
  buildIfNeeded();
  mkdirSync(dataDir, { recursive: true });
  loadCluster();
  const foundingIds = Array.from({ length: count }, (_, i) => `n${i}`);
  const ports = [
    ...gateways.map((g) => g.port),
    ...[
      ...Array.from({ length: count }, (_, i) => basePort + 10 * i),
      ...cluster.added.map((n) => n.port),
    ]
      .map((p) => [p, p + 1])
      .flat(),
  ];
  for (const p of ports) {
    if (!(await portFree(p)))
      fail(`port ${p} is in use: stop what uses it, or set PORT / CHAT_BASE_PORT`);
  }
  keysEnv = curve ? { CHAT_KEYS_DIR: keysDir } : {};
  if (curve) {
    // The compiled contracts library: the same code the processes load the keys with.
    const { ensureClusterKeys } = require(join(root, 'dist/apps/chat-node/libs/contracts/src'));
    const created = ensureClusterKeys(keysDir, [...foundingIds, ...gateways.map((g) => g.name)]);
    if (created.length > 0)
      process.stdout.write(`made CURVE keys for ${created.join(', ')} in ${keysDir}\n`);
  }
  founding = foundingIds.map((id, i) => `${id}=127.0.0.1:${basePort + 10 * i}`).join(',');
  const live = [
    ...foundingIds.map((id, i) => ({ id, port: basePort + 10 * i })),
    ...cluster.added,
  ].filter((n) => !cluster.retired.includes(n.id));
  if (live.length === 0)
    fail(`every node in ${clusterFile} is retired: remove ${dataDir} to start afresh`);
  const members = live.map((n) => `${n.id}=127.0.0.1:${n.port}`).join(',');
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));
  const { url: launcherUrl, token: launcherToken } = await startControl();
  for (const node of live) {
    const isFounding = foundingIds.includes(node.id);
    // An added node restarts on its data (its membership is there); CHAT_JOIN is only its
    // way in on a first start, through the first founding node still running.
    const via =
      live.find((n) => n.id !== node.id && foundingIds.includes(n.id)) ??
      live.find((n) => n.id !== node.id);
    const service = nodeService(
      node.id,
      isFounding ? { CHAT_MEMBERS: founding } : joinEnv(node.id, node.port, via),
      services.length,
    );
    service.port = node.port;
    services.push(service);
  }
  for (const gateway of gateways)
    services.push({
      name: gateway.name,
      script: gatewayMain,
      env: {
        CHAT_MEMBERS: members,
        PORT: String(gateway.port),
        GATEWAY_ID: gateway.name,
        CHAT_LAUNCHER_URL: launcherUrl,
        CHAT_LAUNCHER_TOKEN: launcherToken,
        ...keysEnv,
      },
      color: 37,
    });
  for (const service of services) launch(service);
  gatewayUrls = gateways.map((g) => `http://127.0.0.1:${g.port}`);
  const urls = gatewayUrls;
  const url = urls[0];
  const ready = await Promise.all(urls.map((u) => waitReady(`${u}/health`, 30_000)));
  if (!ready.every(Boolean)) {
    process.stdout.write('the cluster did not become healthy within 30 s (see the logs above)\n');
    stop(1);
    return;
  }
  healthy = true;
  process.stdout.write(
    `\n  Causal chat is running with ${live.length} nodes (data in ${dataDir}; links ${curve ? 'encrypted with CURVE' : 'NOT encrypted: CHAT_CURVE=off'})\n  UI:       ${urls.map((u) => `${u}/`).join('  ')}\n  OpenAPI:  ${url}/docs\n  Add a node: npm run node:add -- <id>\n  A process that exits is started again; Ctrl-C stops everything.\n\n`,
  );
}

main().catch((error) => fail(error.stack ?? String(error)));
