import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NODE_MAIN, ROOT } from './support/cluster';

describe('start-up errors', () => {
  const start = (env: Record<string, string>) =>
    spawnSync(process.execPath, [NODE_MAIN], {
      env: { ...process.env, ...env },
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
