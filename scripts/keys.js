#!/usr/bin/env node
/**
 * npm run keys -- [--dir DIR] NAME… — makes the CURVE key pairs a deployment needs: one per
 * process (every node id and every gateway id), `<name>.key` (mode 0600) and `<name>.pub`
 * in DIR (default ./keys, mode 0700). Existing keys are kept, so adding a name later is
 * safe. Each process is then given the directory (CHAT_KEYS_DIR), or only its own .key and
 * everyone's .pub (see docker-compose.yml).
 */
'use strict';
const { join, resolve } = require('node:path');

const root = join(__dirname, '..');
const args = process.argv.slice(2);
const at = args.indexOf('--dir');
const dir = resolve(at >= 0 ? args[at + 1] : 'keys');
const names = args.filter((_, i) => i !== at && i !== at + 1);
if (names.length === 0) {
  process.stderr.write('usage: npm run keys -- [--dir DIR] NAME… (e.g. n0 n1 n2 gateway)\n');
  process.exit(2);
}
const { ensureClusterKeys, ConfigError } = require(
  join(root, 'dist/apps/chat-node/libs/contracts/src'),
);
try {
  const created = ensureClusterKeys(dir, names);
  const kept = names.filter((name) => !created.includes(name));
  process.stdout.write(
    `${dir}: made ${created.length ? created.join(', ') : 'nothing'}${kept.length ? `; kept ${kept.join(', ')}` : ''}\n`,
  );
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`npm run keys: ${error.message}\n`);
  process.exit(2);
}
