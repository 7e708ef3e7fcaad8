import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, waitUntil } from './cluster';

/** `npm start`'s supervisor (scripts/start.js) as a real process, with its output collected. */
export class Supervisor {
  output = '';
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;

  constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, [join(ROOT, 'scripts/start.js')], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [this.child.stdout!, this.child.stderr!])
      stream.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', resolve));
  }

  /** Resolves with the first match of `pattern` in the output at or after `from`. */
  async waitFor(pattern: RegExp, from = 0, ms = 40_000): Promise<RegExpMatchArray> {
    await waitUntil(() => pattern.test(this.output.slice(from)), ms, `${pattern}`).catch(
      (error: Error) => {
        throw new Error(`${error.message} in npm start's output:\n${this.output.slice(-3000)}`);
      },
    );
    return this.output.slice(from).match(pattern)!;
  }

  /** The pid the supervisor printed last for `name`. */
  pid(name: string): number {
    const starts = [
      ...this.output.matchAll(new RegExp(`${name}\\s*\\S*\\| started \\(pid (\\d+)\\)`, 'g')),
    ];
    return Number(starts.at(-1)![1]);
  }

  stop(): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill('SIGINT');
    return this.exited;
  }
}
