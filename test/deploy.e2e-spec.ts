import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureClusterKeys } from '@app/contracts';
import { generateCurveKeyPair } from '@app/zmq-transport';
import { GATEWAY_MAIN, NODE_MAIN, ROOT } from './support/cluster';

describe('start-up errors', () => {
  const keys = mkdtempSync(join(tmpdir(), 'keys-'));
  ensureClusterKeys(keys, ['n0', 'n1', 'gateway']);
  afterAll(() => rmSync(keys, { recursive: true, force: true }));
  const start = (env: Record<string, string>, main = NODE_MAIN) =>
    spawnSync(process.execPath, [main], {
      env: { ...process.env, CHAT_KEYS_DIR: keys, ...env },
      encoding: 'utf8',
      timeout: 20_000,
    });

  it('stops on a corrupt data file with one line that says what to do, not a stack trace', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corrupt-'));
    try {
      writeFileSync(join(dir, 'n0.sqlite'), 'this is not a database'.repeat(300));
      const run = start({ CHAT_NODE_ID: 'n0', CHAT_MEMBERS: 'n0=127.0.0.1:7390', DATA_DIR: dir });
      const output = run.stdout + run.stderr;
      expect(run.status).toBe(1);
      expect(output).toMatch(
        /data file .*n0\.sqlite: cannot be opened .*move it aside to start this node empty/,
      );
      expect(output).not.toMatch(/\n\s+at /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    [{ CHAT_KEYS_DIR: '' }, 'CHAT_CURVE: is on (the default) but no keys are configured'],
    [{ CHAT_KEYS_DIR: '/nonexistent' }, 'CHAT_KEYS_DIR: "/nonexistent" is not a directory'],
    [
      { CHAT_SECRET_KEY: 'too short' },
      'CHAT_SECRET_KEY: a CURVE key is 40 characters of Z85 text, got 9',
    ],
    [
      { CHAT_SECRET_KEY: generateCurveKeyPair().secretKey },
      'is not the public key of CHAT_SECRET_KEY',
    ],
    [
      { CHAT_MEMBERS: 'n0=127.0.0.1:7390,n5=127.0.0.1:7400' },
      'CHAT_KEYS_DIR: no public key for n5',
    ],
    [{ CHAT_PUBLIC_KEYS: 'n1=not-a-key' }, 'CHAT_PUBLIC_KEYS (n1): a CURVE key is 40 characters'],
  ])('refuses bad key material before it opens a socket: %j', (env, message) => {
    for (const main of [NODE_MAIN, GATEWAY_MAIN]) {
      const run = start(
        { CHAT_NODE_ID: 'n0', CHAT_MEMBERS: 'n0=127.0.0.1:7390,n1=127.0.0.1:7400', ...env },
        main,
      );
      expect(run.status).toBe(2);
      expect(run.stderr).toMatch(/^(chat-node|gateway): configuration error: /);
      expect(run.stderr).toContain(message);
      expect(run.stdout).not.toMatch(/ready|listening/);
    }
  });

  it('the gateway refuses to listen beyond loopback without an operator token', () => {
    const env = { CHAT_MEMBERS: 'n0=127.0.0.1:7390', HOST: '0.0.0.0', PORT: '0' };
    const open = start(env, GATEWAY_MAIN);
    expect(open.status).toBe(2);
    expect(open.stderr).toContain('GATEWAY_ADMIN_TOKEN: is required when HOST=0.0.0.0');
    expect(open.stderr).toContain('GATEWAY_ADMIN_TOKEN=none');
    const weak = start({ ...env, GATEWAY_ADMIN_TOKEN: 'secret' }, GATEWAY_MAIN);
    expect(weak.status).toBe(2);
    expect(weak.stderr).toContain('GATEWAY_ADMIN_TOKEN: must be at least 16 characters, got 6');
  });

  it('refuses bad configuration naming the variable', () => {
    const run = start({ CHAT_NODE_ID: 'n7', CHAT_MEMBERS: 'n0=127.0.0.1:7390' });
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(
      'chat-node: configuration error: CHAT_NODE_ID: "n7" is not in CHAT_MEMBERS (n0)\n',
    );
  });
});

describe('deployment files', () => {
  it('docker-compose.yml passes dclint (style-only rules off)', () => {
    const result = spawnSync(
      process.execPath,
      [
        join(ROOT, 'node_modules/dclint/bin/dclint.cjs'),
        'docker-compose.yml',
        '--disable-rule',
        'service-keys-order',
        '--disable-rule',
        'top-level-properties-order',
        '--disable-rule',
        'require-quotes-in-ports',
        '--max-warnings',
        '0',
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    expect(result.stdout + result.stderr).not.toMatch(/error|warning/);
    expect(result.status).toBe(0);
  });

  it('the Dockerfile passes dockerfilelint', () => {
    const result = spawnSync(
      process.execPath,
      [join(ROOT, 'node_modules/dockerfilelint/bin/dockerfilelint'), 'Dockerfile'],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    );
    expect(result.stdout).toMatch(/Issues: None found/);
    expect(result.status).toBe(0);
  });
});
