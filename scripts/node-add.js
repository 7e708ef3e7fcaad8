#!/usr/bin/env node
/**
 * npm run node:add -- <id>: adds a node to the cluster `npm start` is running. The launcher
 * makes its keys, admits it through the gateway (POST /cluster/members) and starts it with
 * CHAT_JOIN under its supervision (restarted like the others, stopped by Ctrl-C, started
 * again by the next npm start). Prints the new node's id, address and pid.
 */
'use strict';
const { existsSync, readFileSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const dataDir = process.env.DATA_DIR ?? join(root, 'data');
const launcherFile = join(dataDir, 'launcher.json');
const id = process.argv[2];

function fail(message) {
  process.stderr.write(`node:add: ${message}\n`);
  process.exit(1);
}

if (!id) fail('usage: npm run node:add -- <id>   (e.g. n3)');
if (!existsSync(launcherFile))
  fail(`no running cluster: ${launcherFile} is missing (start one with npm start)`);
const { url, token } = JSON.parse(readFileSync(launcherFile, 'utf8'));

fetch(`${url}/nodes`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
  body: JSON.stringify({ id }),
})
  .then(async (response) => {
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) fail(`${answer.message ?? `the launcher answered ${response.status}`}`);
    process.stdout.write(
      `added ${answer.id} at ${answer.address} (pid ${answer.pid}); it joins and catches up now\n`,
    );
  })
  .catch((error) =>
    fail(`the launcher at ${url} did not answer (${error.message}): is npm start still running?`),
  );
