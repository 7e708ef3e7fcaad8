/**
 * npm run bench [-- --soak SECONDS] — runs the causal, transport, cluster and gateway
 * benchmarks one after another (each measures its own baseline in the same run) and writes
 * BENCHMARKS.md: every figure beside its baseline, the ratio, the target, the machine and
 * the date. The cluster benchmark includes a soak at 500 msg/s (default 60 s; the issue's
 * 10 minutes is `-- --soak 600`) whose RSS growth must stay under SOAK_RSS_BOUND_MB and
 * whose hold-back buffers must end empty.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './bench-util';

const SOAK_RSS_BOUND_MB = 50;
const soakIndex = process.argv.indexOf('--soak');
const soakSeconds = soakIndex >= 0 ? Number(process.argv[soakIndex + 1]) : 60;

type Figures = Record<string, number | Record<string, unknown>>;

function run(script: string, args: string[] = []): { figures: Figures; text: string } {
  process.stderr.write(`[bench] ${script} ${args.join(' ')}\n`);
  const result = spawnSync(
    process.execPath,
    [
      '--expose-gc',
      '-r',
      'ts-node/register/transpile-only',
      '-r',
      'tsconfig-paths/register',
      script,
      ...args,
    ],
    {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: (soakSeconds + 600) * 1000,
    },
  );
  const lines = result.stdout.trim().split('\n');
  if (result.status !== 0)
    throw new Error(`${script} failed (${result.status}):\n${result.stdout}`);
  return {
    figures: JSON.parse(lines[lines.length - 1]) as Figures,
    text: lines.slice(0, -1).join('\n'),
  };
}

const n = (value: unknown, digits = 0) =>
  typeof value === 'number'
    ? value.toLocaleString('en-US', {
        maximumFractionDigits: digits,
        minimumFractionDigits: digits,
      })
    : String(value);
const verdict = (ok: boolean) => (ok ? 'met' : '**not met**');

function main(): void {
  const causal = run('scripts/bench/causal.bench.ts');
  const transport = run('scripts/bench/transport.bench.ts');
  const cluster = run('scripts/bench/cluster.bench.ts', ['--soak', String(soakSeconds)]);
  const gateway = run('scripts/bench/gateway.bench.ts');

  const c = causal.figures as Record<string, number>;
  const t = transport.figures as Record<string, number>;
  const k = cluster.figures as Record<string, number> & {
    soak?: { rssStartMB: number[]; rssEndMB: number[]; seconds: number };
    deliveredPerSecByInFlight: Record<string, number>;
  };
  const g = gateway.figures as Record<string, number>;
  const growth = k.soak
    ? Math.max(...k.soak.rssEndMB.map((end, i) => end - k.soak!.rssStartMB[i]))
    : NaN;

  const rows: [string, string, string, string, string, string][] = [
    [
      'causal: in causal order',
      `${n(c.inOrder)} deliveries/s`,
      '—',
      '—',
      '≥ 1,000,000/s',
      verdict(c.inOrder >= 1_000_000),
    ],
    [
      'causal: shuffled, windows of 1,000',
      `${n(c.window1k)}/s`,
      `in order ${n(c.inOrder)}/s`,
      n(c.window1k / c.inOrder, 2),
      '≥ 0.40',
      verdict(c.window1k / c.inOrder >= 0.4),
    ],
    [
      'causal: shuffled, windows of 10,000',
      `${n(c.window10k)}/s`,
      `in order ${n(c.inOrder)}/s`,
      n(c.window10k / c.inOrder, 2),
      '≥ 0.40',
      verdict(c.window10k / c.inOrder >= 0.4),
    ],
    [
      'causal: 100,000 held then released',
      `${n(c.release100k)}/s`,
      `in order ${n(c.inOrder)}/s`,
      n(c.release100k / c.inOrder, 2),
      '≥ 0.40',
      verdict(c.release100k / c.inOrder >= 0.4),
    ],
    [
      'causal: HLC per message (send or receive rule, physical clock read)',
      `${n(c.hlcNsPerMsg, 1)} ns`,
      `vector clock delivery ${n(c.vectorNsPerMsg, 1)} ns`,
      n(c.hlcNsPerMsg / c.vectorNsPerMsg, 2),
      '≤ 0.5 of the vector clock',
      verdict(c.hlcNsPerMsg / c.vectorNsPerMsg <= 0.5),
    ],
    [
      'transport: ZmqClient → ZmqServer, 64 in flight',
      `${n(t.clientReqPerSec)} req/s`,
      `raw DEALER/ROUTER ${n(t.rawReqPerSec)} req/s`,
      n(t.ratio, 2),
      '≥ 0.50',
      verdict(t.ratio >= 0.5),
    ],
    [
      'transport: round trip p99',
      `${n(t.clientP99us)} µs`,
      `raw ${n(t.rawP99us)} µs`,
      n(t.clientP99us / t.rawP99us, 2),
      '≤ 2',
      verdict(t.clientP99us / t.rawP99us <= 2),
    ],
    [
      'cluster: delivered at all three nodes (CURVE on)',
      `${n(k.deliveredPerSec)} msg/s (best of ${Object.entries(k.deliveredPerSecByInFlight)
        .map(([depth, perSec]) => `${n(perSec)} at ${depth}`)
        .join(', ')} in flight per node)`,
      `raw PUB/SUB ${n(k.rawPerSubscriberPerSec)} msg/s/subscriber`,
      n(k.ratio, 2),
      '≥ 10,000/s and ≥ 0.12',
      verdict(k.deliveredPerSec >= 10_000 && k.ratio >= 0.12),
    ],
    [
      'cluster: CURVE on every link (best of alternating rounds at 256 in flight)',
      `${n(k.curvePerSec)} msg/s; the three nodes' CPU ${n(k.curveCpuUsPerMsg)} µs per message`,
      `plaintext cluster ${n(k.plainPerSec)} msg/s, ${n(k.plainCpuUsPerMsg)} µs`,
      n(k.curveRatio, 2),
      'what encryption costs (no target)',
      '—',
    ],
    [
      'cluster: originate → delivered everywhere, 2,000 msg/s',
      `p50 ${n(k.p50ms, 1)} ms, p99 ${n(k.p99ms, 1)} ms (10 s after 3 s settling; settling p99 ${n(k.settlingP99ms, 1)} ms)`,
      '—',
      '—',
      'p99 < 50 ms',
      verdict(k.p99ms < 50),
    ],
    [
      `cluster: soak ${soakSeconds} s at 500 msg/s`,
      `RSS ${k.soak?.rssStartMB.join('/')} → ${k.soak?.rssEndMB.join('/')} MB (largest growth ${n(growth)} MB), buffers empty`,
      '—',
      '—',
      `≤ ${SOAK_RSS_BOUND_MB} MB`,
      verdict(growth <= SOAK_RSS_BOUND_MB),
    ],
    [
      'gateway: REST end to end, 50 connections (CURVE on)',
      `${n(g.restPerSec)} req/s (p99 ${n(g.p99ms)} ms)`,
      `bare NestJS ${n(g.bareRestPerSec)} req/s`,
      n(g.ratio, 2),
      '≥ 3,000/s, ≥ 0.45, p99 < 50 ms',
      verdict(g.restPerSec >= 3000 && g.ratio >= 0.45 && g.p99ms < 50),
    ],
    [
      'gateway: CPU per REST request',
      `${n(g.gatewayCpuUs)} µs`,
      `bare NestJS ${n(g.bareCpuUs)} µs`,
      n(g.cpuRatio, 2),
      '≤ 1.5×',
      verdict(g.cpuRatio <= 1.5),
    ],
    [
      'gateway + nodes: CPU per durable REST message',
      `${n(g.totalCpuUs)} µs`,
      '—',
      '—',
      '≤ 700 µs',
      verdict(g.totalCpuUs <= 700),
    ],
    [
      'gateway: Socket.IO POST → at subscribers of all three nodes, 1,000 msg/s',
      `p50 ${n(g.socketP50ms, 1)} ms, p99 ${n(g.socketP99ms, 1)} ms`,
      '—',
      '—',
      'p99 < 20 ms',
      verdict(g.socketP99ms < 20),
    ],
    [
      `gateway: Socket.IO POST → at subscribers of all three nodes, ${n(g.sustainedRate)} msg/s`,
      `p50 ${n(g.sustainedSocketP50ms, 1)} ms, p99 ${n(g.socketP99ms250, 1)} ms`,
      '—',
      '—',
      'p99 < 10 ms',
      verdict(g.socketP99ms250 < 10),
    ],
    [
      `gateway: classroom, ${n(g.classroomClients)} clients at 200 msg/s`,
      `p99 at the last client ${n(g.classroomP99ms, 1)} ms, every client got every message: ${g.classroomDelivered ? 'yes' : 'NO'}, ${n(g.classroomCpuUsPerClient, 1)} µs gateway CPU per message per client`,
      '—',
      '—',
      'p99 < 50 ms, all delivered',
      verdict(g.classroomP99ms < 50 && Boolean(g.classroomDelivered)),
    ],
  ];
  const machine = `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  const table = [
    '| benchmark | figure | baseline (same run) | ratio | target | |',
    '| --- | --- | --- | ---: | --- | --- |',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
  const report = `# Benchmarks

Written by \`npm run bench\` on ${new Date().toISOString()} — ${machine}. Every baseline was
measured in the same run as the figure beside it. Peak RSS: causal ${n(c.rssMB)} MB
(benchmark process), transport client ${n(t.rssMB)} MB, nodes ${n(k.rssMBMax)} MB,
gateway ${n(g.gatewayRssMB)} MB (bare NestJS app ${n(g.bareRssMB)} MB).

${table}

## Raw output

\`\`\`
${causal.text}

${transport.text}

${cluster.text}

${gateway.text}
\`\`\`
`;
  writeFileSync(join(ROOT, 'BENCHMARKS.md'), report);
  process.stdout.write(`${table}\n\nwrote BENCHMARKS.md\n`);
}

main();
