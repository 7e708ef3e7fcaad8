import { spawnSync } from 'node:child_process';
import { ROOT } from './support/cluster';

describe('fault campaign (npm run chaos, short)', () => {
  it('loses nothing acknowledged, duplicates nothing and keeps causal order under kills, pauses, partitions, lossy links, joins, retirements, wrong clocks and paused inboxes', () => {
    const seed = String(Math.floor(Math.random() * 2 ** 31));
    const run = spawnSync(
      process.execPath,
      [
        '-r',
        'ts-node/register/transpile-only',
        '-r',
        'tsconfig-paths/register',
        'scripts/chaos.ts',
        '--duration',
        '25',
        '--nodes',
        '3',
        '--seed',
        seed,
      ],
      { cwd: ROOT, encoding: 'utf8', timeout: 240_000 },
    );
    const lines = run.stdout.trim().split('\n');
    let summary;
    try {
      summary = JSON.parse(lines[lines.length - 1]);
    } catch {
      throw new Error(
        `the campaign ended without a summary (status ${run.status}, signal ${run.signal}):\n${run.stdout.slice(-2000)}\n${run.stderr.slice(-4000)}`,
      );
    }
    // On failure the output names the seed and the nemesis trace to replay.
    expect({
      status: run.status,
      lost: summary.lost,
      duplicates: summary.duplicates,
      violations: summary.violations,
      hlcViolations: summary.hlcViolations,
    }).toEqual({
      status: 0,
      lost: 0,
      duplicates: 0,
      violations: 0,
      hlcViolations: 0,
    });
    expect(summary.acknowledged).toBeGreaterThan(100);
    expect(
      summary.faults.kill + summary.faults.partition + summary.faults.pause + summary.faults.links,
    ).toBeGreaterThan(3);
  }, 260_000);
});
