/**
 * npm run run:export -- data/n0.sqlite data/n1.sqlite … > run.json
 *
 * A run built offline from nodes' data files, so it survives the cluster: the same format
 * as GET /cluster/run (docs/run-format.md), every event the files hold (or a window with
 * `--from MS --to MS`). The files are opened read-only; a running node holds its file
 * exclusively, so stop the cluster first (or copy the files).
 * Each file is read a page of trace rows at a time and the merge holds one event per node.
 */
import { basename } from 'node:path';
import Database from 'better-sqlite3';
import { mergeRunStreams, RUN_FORMAT, RUN_VERSION, RunEvent, RunHeader } from '@app/contracts';
import { Delivery, DeliveryRow, toDelivery } from '../apps/chat-node/src/storage/message-log';
import { toRunEvent } from '../apps/chat-node/src/storage/run-events';
import { decodeTraceRow } from '../apps/chat-node/src/storage/trace-rows';

const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : undefined;
};
const fromMs = arg('from') ?? -Infinity;
const toMs = arg('to') ?? Infinity;
const files = process.argv
  .slice(2)
  .filter((a, i, all) => !a.startsWith('--') && !all[i - 1]?.startsWith('--'));

function open(file: string): { nodeId: string; events: AsyncIterable<RunEvent> } {
  let db: Database.Database;
  let owner: { value: string } | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    owner = db.prepare<[], { value: string }>(`SELECT value FROM meta WHERE key = 'node_id'`).get();
  } catch (error) {
    throw new Error(
      `${file}: cannot be opened (${(error as Error).message}); is it a node's data file, and is that node stopped (it holds its file)?`,
    );
  }
  if (!owner) throw new Error(`${file}: is not a chat-node data file (no node_id)`);
  const nodeId = owner.value;
  const byMessage = db.prepare(`SELECT * FROM log WHERE sender = ? AND seq = ?`);
  const lookup = (sender: string, seq: number): Delivery | undefined => {
    const row = byMessage.get(sender, seq) as DeliveryRow | undefined;
    return row && toDelivery(row);
  };
  const rows = db.prepare(`SELECT idx, events FROM trace WHERE idx > ? ORDER BY idx LIMIT 500`);
  async function* events(): AsyncGenerator<RunEvent> {
    let after = 0;
    for (;;) {
      const page = rows.all(after) as { idx: number; events: string }[];
      if (page.length === 0) break;
      for (const row of page) {
        const decoded = decodeTraceRow(row.events);
        if (decoded[0]?.at !== undefined && decoded[0].at > toMs) return db.close();
        for (const traceEvent of decoded) {
          const event = toRunEvent(nodeId, traceEvent, lookup, { fromMs, toMs });
          if (event) yield event;
        }
      }
      after = page[page.length - 1].idx;
    }
    db.close();
  }
  return { nodeId, events: events() };
}

async function main(): Promise<void> {
  if (files.length === 0) {
    process.stderr.write(
      'usage: npm run run:export -- data/n0.sqlite data/n1.sqlite … > run.json\n',
    );
    process.exit(2);
  }
  const sources = files.map(open);
  const members = sources.map((s) => s.nodeId);
  const header: RunHeader = {
    format: RUN_FORMAT,
    version: RUN_VERSION,
    from: Number.isFinite(fromMs) ? fromMs : 0,
    to: Number.isFinite(toMs) ? toMs : Date.now(),
    members,
    createdAt: new Date().toISOString(),
  };
  const out = process.stdout;
  const write = (text: string) =>
    out.write(text) ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r()));
  await write(`${JSON.stringify(header).slice(0, -1)},"events":[`);
  let count = 0;
  for await (const event of mergeRunStreams(sources.map((s) => s.events)))
    await write(`${count++ === 0 ? '\n' : ',\n'}${JSON.stringify(event)}`);
  await write(`\n],"count":${count},"next":null,"unreachable":[]}\n`);
  process.stderr.write(
    `run:export: ${count} events of ${members.join(', ')} (${files.map((f) => basename(f)).join(', ')})\n`,
  );
}

main().catch((error: Error) => {
  process.stderr.write(`run:export: ${error.message}\n`);
  process.exit(2);
});
