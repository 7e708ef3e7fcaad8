import { fstatSync, fsync, mkdtempSync, rmSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VectorClock } from '@app/causal';
import { LogWrite, MessageLog, StoredMessage, SyncFile, TraceEvent } from './message-log';

function delivery(index: number, sender: string, seq: number): LogWrite {
  const message: StoredMessage = {
    id: `${sender}:${seq}`,
    sender,
    seq,
    clock: VectorClock.of({ [sender]: seq }),
    text: `message ${index}`,
    sentAt: '2026-11-25T12:00:00.000Z',
    trace: { [sender]: index },
  };
  return {
    delivery: { index, message, deliveredAt: '2026-11-25T12:00:01.000Z' },
    events: [{ clock: { n0: index }, kind: 'deliver', detail: message.id }],
  };
}

/** The whole trace, read page by page (`limit` events a page), and how many pages it took. */
function wholeTrace(log: MessageLog, limit = 1000): { events: TraceEvent[]; pages: number } {
  const events: TraceEvent[] = [];
  let after: number | null = 0;
  let pages = 0;
  while (after !== null) {
    const page = log.tracePage(after, limit, 1 << 20);
    events.push(...page.events);
    after = page.next;
    pages++;
  }
  return { events, pages };
}

/** `fs.fsync` that notes each descriptor it synced. */
function recordingFsync(synced: number[]): SyncFile {
  return (fd, done) =>
    fsync(fd, (error) => {
      synced.push(fd);
      done(error);
    });
}

describe('MessageLog', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'message-log-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('makes commits durable with an fsync of the WAL, off the event loop', async () => {
    const synced: number[] = [];
    const log = new MessageLog(dir, 'n0', 'full', recordingFsync(synced));
    log.write([delivery(1, 'n0', 1)]);
    await log.durable();
    expect(log.fsyncs).toBe(1);
    // the descriptor synced is the WAL's, where the commit went
    expect(fstatSync(synced[0]).ino).toBe(statSync(join(dir, 'n0.sqlite-wal')).ino);
    log.close();
  });

  it('keeps syncing the WAL that commits go to after SQLite checkpoints it', async () => {
    const synced: number[] = [];
    const log = new MessageLog(dir, 'n0', 'full', recordingFsync(synced));
    const wal = join(dir, 'n0.sqlite-wal');
    // ~3 pages per commit: well past the 1,000 pages at which SQLite checkpoints and the
    // WAL starts again from its beginning
    for (let i = 1; i <= 600; i++) log.write([delivery(i, 'n0', i)]);
    await log.durable();
    expect(statSync(wal).size).toBeLessThan(1_500 * 4_096); // it did start over
    log.write([delivery(601, 'n0', 601)]);
    await log.durable();
    expect(fstatSync(synced[synced.length - 1]).ino).toBe(statSync(wal).ino);
    log.close();
  });

  it('refuses a second user of its file with an error naming the file', () => {
    const log = new MessageLog(dir, 'n0', 'full');
    expect(() => new MessageLog(dir, 'n0', 'full', fsync, 20)).toThrow(
      /n0\.sqlite.* is in use by another process/,
    );
    log.write([delivery(1, 'n0', 1)]); // the first one goes on untouched
    log.close();
    const reopened = new MessageLog(dir, 'n0', 'full', fsync, 20);
    expect(reopened.history(0, 10)).toHaveLength(1);
    reopened.close();
  });

  it('never resolves durable() with an fsync that began before the call', async () => {
    const pending: ((error: NodeJS.ErrnoException | null) => void)[] = [];
    const log = new MessageLog(dir, 'n0', 'full', (_fd, done) => pending.push(done));
    log.write([delivery(1, 'n0', 1)]);
    const first = log.durable(); // starts fsync #1
    log.write([delivery(2, 'n0', 2)]);
    let secondDone = false;
    const second = log.durable().then(() => (secondDone = true));
    const third = log.durable(); // shares the fsync queued for the second
    expect(pending).toHaveLength(1);
    pending.shift()!(null); // fsync #1 completes: it may have missed commit 2
    await first;
    await new Promise((resolve) => setImmediate(resolve));
    expect(secondDone).toBe(false);
    expect(pending).toHaveLength(1); // fsync #2 started, once for both callers
    pending.shift()!(null);
    await Promise.all([second, third]);
    expect(log.fsyncs).toBe(2);
    log.close();
  });

  it('reports a failed fsync as a storage error naming the file', async () => {
    const log = new MessageLog(dir, 'n0', 'full', (_fd, done) =>
      done(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' })),
    );
    log.write([delivery(1, 'n0', 1)]);
    await expect(log.durable()).rejects.toThrow(/n0\.sqlite: fsync failed: EIO/);
    log.close();
  });

  it('does not wait for the disk when configured normal', async () => {
    const log = new MessageLog(dir, 'n0', 'normal', () => {
      throw new Error('no fsync expected');
    });
    log.write([delivery(1, 'n0', 1)]);
    await log.durable();
    expect(log.fsyncs).toBe(0);
    log.close();
  });

  it('keeps both kinds of commit across a reopen, in delivery order', () => {
    const log = new MessageLog(dir, 'n0', 'full');
    log.write([delivery(1, 'n1', 1), delivery(2, 'n1', 2)]);
    log.write([delivery(3, 'n0', 1)]);
    log.close();
    const reopened = new MessageLog(dir, 'n0', 'full');
    const restored = reopened.restored;
    expect(restored.clock.toJSON()).toEqual({ n0: 1, n1: 2 });
    expect(restored.lastIndex).toBe(3);
    expect(reopened.history(0, 10).map((d) => d.message.id)).toEqual(['n1:1', 'n1:2', 'n0:1']);
    reopened.close();
  });

  it('keeps trace events in order, one row per commit, and resumes the trace clock', () => {
    const log = new MessageLog(dir, 'n0', 'full');
    log.write([delivery(1, 'n0', 1), delivery(2, 'n0', 2)]);
    log.write([{ events: [{ clock: { n0: 3, n1: 1 }, kind: 'receive', detail: 'n1:1' }] }]);
    log.close();
    const reopened = new MessageLog(dir, 'n0', 'full');
    expect(wholeTrace(reopened).events.map((e) => `${e.kind} ${e.detail} ${e.clock.n0}`)).toEqual([
      'deliver n0:1 1',
      'deliver n0:2 2',
      'receive n1:1 3',
    ]);
    expect(reopened.restored.trace).toEqual({ n0: 3, n1: 1 });
    reopened.close();
    const db = new Database(join(dir, 'n0.sqlite'));
    expect(db.prepare('SELECT COUNT(*) AS n FROM trace').get()).toEqual({ n: 2 });
    db.close();
  });

  it('reads the trace of a data file written one event per row', () => {
    new MessageLog(dir, 'n0', 'full').close();
    const db = new Database(join(dir, 'n0.sqlite'));
    db.exec(
      `CREATE TABLE events (idx INTEGER PRIMARY KEY AUTOINCREMENT, clock TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL)`,
    );
    db.prepare(`INSERT INTO events (clock, kind, detail) VALUES (?, 'send', 'n0:1 "old"')`).run(
      JSON.stringify({ n0: 1 }),
    );
    db.close();
    const log = new MessageLog(dir, 'n0', 'full');
    expect(log.restored.trace).toEqual({ n0: 1 });
    log.write([{ events: [{ clock: { n0: 2 }, kind: 'deliver', detail: 'n0:1' }] }]);
    expect(wholeTrace(log).events.map((e) => e.clock.n0)).toEqual([1, 2]);
    log.close();
    // The old rows were carried into the trace table, ahead of the batched ones.
    const after = new Database(join(dir, 'n0.sqlite'));
    expect(
      after.prepare(`SELECT name FROM sqlite_master WHERE name = 'events'`).get(),
    ).toBeUndefined();
    after.close();
  });

  it('carries an old file with both event rows and batched rows over in order', () => {
    new MessageLog(dir, 'n0', 'full').close();
    const db = new Database(join(dir, 'n0.sqlite'));
    db.exec(
      `CREATE TABLE events (idx INTEGER PRIMARY KEY AUTOINCREMENT, clock TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL)`,
    );
    const insert = db.prepare(`INSERT INTO events (clock, kind, detail) VALUES (?, 'send', ?)`);
    for (let n = 1; n <= 300; n++) insert.run(JSON.stringify({ n0: n }), `n0:${n}`);
    db.prepare(`INSERT INTO trace (events) VALUES (?)`).run(
      JSON.stringify([[{ n0: 301 }, 'deliver', 'n0:1']]),
    );
    db.close();
    const log = new MessageLog(dir, 'n0', 'full');
    expect(wholeTrace(log).events.map((e) => e.clock.n0)).toEqual(
      Array.from({ length: 301 }, (_, i) => i + 1),
    );
    expect(log.restored.trace).toEqual({ n0: 301 });
    log.close();
  });

  it('pages the trace by whole commits: 35 messages in pages of 10 are read once each, in order', () => {
    const log = new MessageLog(dir, 'n0', 'full');
    // commits of 1, 2 and 4 deliveries, one event each
    for (let index = 1; index <= 35;) {
      const size = [1, 2, 4][index % 3];
      const writes: LogWrite[] = [];
      for (let k = 0; k < size && index <= 35; k++, index++)
        writes.push(delivery(index, 'n0', index));
      log.write(writes);
    }
    const paged = wholeTrace(log, 10);
    expect(paged.events.map((e) => e.clock.n0)).toEqual(
      Array.from({ length: 35 }, (_, i) => i + 1),
    );
    expect(paged.pages).toBeGreaterThanOrEqual(4);
    expect(paged.pages).toBeLessThanOrEqual(5);
    const first = log.tracePage(0, 10, 1 << 20);
    expect(first.events.length).toBeGreaterThanOrEqual(10);
    expect(first.events.length).toBeLessThan(10 + 4); // at most one commit over the limit
    expect(log.tracePage(first.next!, 10, 1 << 20).events[0].clock.n0).toBe(
      first.events.length + 1,
    );
    // The byte bound holds too, but a page always makes progress.
    expect(log.tracePage(0, 1000, 1).events.length).toBeGreaterThan(0);
    expect(log.tracePage(0, 1000, 1).next).not.toBeNull();
    log.close();
  });

  it('carries a data file of the two-table layout over to one row per delivery', () => {
    const file = join(dir, 'n0.sqlite');
    const old = new Database(file);
    old.exec(`
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      INSERT INTO meta VALUES ('node_id', 'n0');
      CREATE TABLE messages (sender TEXT NOT NULL, seq INTEGER NOT NULL, clock TEXT NOT NULL,
        text TEXT NOT NULL, author TEXT, sent_at TEXT NOT NULL, trace TEXT NOT NULL,
        PRIMARY KEY (sender, seq)) WITHOUT ROWID;
      CREATE TABLE deliveries (idx INTEGER PRIMARY KEY, sender TEXT NOT NULL,
        seq INTEGER NOT NULL, delivered_at TEXT NOT NULL, UNIQUE (sender, seq));
      INSERT INTO messages VALUES ('n1', 1, '{"n1":1}', 'first', NULL, '2026-11-25T10:00:00.000Z', '{"n1":1}');
      INSERT INTO messages VALUES ('n0', 1, '{"n0":1,"n1":1}', 'reply', 'ada', '2026-11-25T10:00:02.000Z', '{"n0":3,"n1":1}');
      INSERT INTO deliveries VALUES (1, 'n1', 1, '2026-11-25T10:00:01.000Z');
      INSERT INTO deliveries VALUES (2, 'n0', 1, '2026-11-25T10:00:02.000Z');
    `);
    old.close();

    const log = new MessageLog(dir, 'n0', 'full');
    expect(log.restored.clock.toJSON()).toEqual({ n0: 1, n1: 1 });
    expect(log.restored.lastIndex).toBe(2);
    const history = log.history(0, 10);
    expect(history.map((d) => [d.index, d.message.id, d.deliveredAt])).toEqual([
      [1, 'n1:1', '2026-11-25T10:00:01.000Z'],
      [2, 'n0:1', '2026-11-25T10:00:02.000Z'],
    ]);
    expect(history[1].message).toMatchObject({ text: 'reply', author: 'ada', trace: { n0: 3 } });
    expect(log.range('n0', 1, 5, 10).map((m) => m.clock.toJSON())).toEqual([{ n0: 1, n1: 1 }]);
    log.write([delivery(3, 'n1', 2)]);
    expect(log.history(2, 10).map((d) => d.message.id)).toEqual(['n1:2']);
    log.close();

    const db = new Database(file);
    const tables = db
      .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
      .all()
      .map((row) => (row as { name: string }).name);
    expect(tables).not.toContain('messages');
    expect(tables).not.toContain('deliveries');
    expect(db.prepare('SELECT COUNT(*) AS n FROM log').get()).toEqual({ n: 3 });
    db.close();
  });

  it('refuses to deliver the same message twice', () => {
    const log = new MessageLog(dir, 'n0', 'full');
    log.write([delivery(1, 'n1', 1)]);
    expect(() => log.write([delivery(2, 'n1', 1)])).toThrow(/UNIQUE/);
    expect(log.history(0, 10)).toHaveLength(1); // the failed batch left nothing behind
    log.close();
  });
});
