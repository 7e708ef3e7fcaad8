import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './support/cluster';

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
});
