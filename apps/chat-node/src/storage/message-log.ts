import { closeSync, existsSync, fsync, fsyncSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Hlc, VectorClock } from '@app/causal';
import type { ChatMessage, ClockJson, MemberChange, RunEventKind } from '@app/contracts';
import { CommitStamp, decodeTraceRow, encodeTraceRow, traceRowHlc } from './trace-rows';

/** A message as the node keeps it. */
export interface StoredMessage {
  readonly id: string;
  readonly sender: string;
  readonly seq: number;
  readonly clock: VectorClock;
  readonly text: string;
  readonly author?: string;
  readonly sentAt: string;
  /** The sender's hybrid logical timestamp (absent only in files older than the HLC). */
  readonly hlc?: Hlc;
  /** True time at the sender when it originated; absent when it equals sentAt (and in older files). */
  readonly trueSentAt?: string;
  /** The sender's event-trace clock when it sent (for the ShiViz log). */
  readonly trace: ClockJson;
  /** A membership entry's change (see Membership). */
  readonly member?: MemberChange;
}

export interface Delivery {
  readonly index: number;
  readonly message: StoredMessage;
  /** The receiving node's clock. */
  readonly deliveredAt: string;
  /** True time; absent when it equals deliveredAt (and in files older than the simulated clocks). */
  readonly trueDeliveredAt?: string;
}

/**
 * send, receive (into the causal buffer), deliver; a copy dropped as a duplicate; a copy the
 * link lost or copied; a change of link, clock or inbox settings.
 */
export type TraceKind = RunEventKind;

export interface TraceEvent {
  readonly clock: ClockJson;
  readonly kind: TraceKind;
  readonly detail: string;
  /** True time of the event's commit (ms; absent in files older than the simulated clocks). */
  readonly at?: number;
  /** The node's own clock at the event's commit (ms). */
  readonly local?: number;
}

/** A page of the event trace and where the next one starts (null: this was the last). */
export interface TracePage {
  readonly events: TraceEvent[];
  readonly next: number | null;
}

/** One write of a batch: a delivery (with its message) and the trace events around it. */
export interface LogWrite {
  readonly delivery?: Delivery;
  readonly events: TraceEvent[];
  /** Meta values written in the same transaction (the membership after an entry). */
  readonly meta?: Readonly<Record<string, string>>;
}

export interface Restored {
  /** Delivered counts per sender: the causal-delivery clock to resume from. */
  readonly clock: VectorClock;
  readonly lastIndex: number;
  readonly trace: ClockJson;
  /** Meta values other than the owner's id (the membership, a joiner's grant); writeMeta adds to it. */
  readonly meta: Record<string, string>;
  /** The node's HLC after its last commit (kept in its trace row), to resume above it. */
  readonly hlc?: Hlc;
}

/** How a file descriptor is flushed to disk: `fs.fsync`'s shape. */
export type SyncFile = (fd: number, done: (error: NodeJS.ErrnoException | null) => void) => void;

export class StorageError extends Error {
  constructor(file: string, reason: string) {
    super(`data file ${file}: ${reason}`);
    this.name = 'StorageError';
  }
}

/** A `log` row as SQLite returns it (the run export reads data files with it too). */
export interface MessageRow {
  sender: string;
  seq: number;
  clock: string;
  text: string;
  author: string | null;
  sent_at: string;
  trace: string;
  member: string | null;
  hlc_wall: number | null;
  hlc_logical: number | null;
  true_sent_at: string | null;
}

export interface DeliveryRow extends MessageRow {
  idx: number;
  delivered_at: string;
  true_delivered_at: string | null;
}

/**
 * The node's durable log in one SQLite file (WAL): every message it delivered, its delivery
 * order, and its event trace. A batch of writes is one transaction, so a group of
 * originations costs one fsync and a crash leaves either all of a batch or none of it.
 *
 * Layout: `log` holds one row per delivered message, keyed by delivery index (appends go to
 * the right edge of the table's B-tree), with a unique index on (sender, seq) for repair
 * lookups; `trace` holds one row of events per commit. Files written by earlier versions
 * (a `messages` table plus a `deliveries` table) are carried over on open, in one
 * transaction.
 */
export class MessageLog {
  readonly file: string;
  /** What the file held when it was opened (read once): where a restarting node resumes. */
  readonly restored: Restored;
  private readonly db: Database.Database;
  /** The configured durability: 'full' makes acknowledged commits wait for the disk. */
  private readonly synchronous: 'full' | 'normal';
  /** Completed fsyncs of the WAL (group commits share them). */
  fsyncs = 0;
  private walFd: number | undefined;
  private syncInFlight: Promise<void> | undefined;
  private syncQueued: Promise<void> | undefined;
  private readonly insertDelivery: Database.Statement;
  private readonly insertTrace: Database.Statement;
  private readonly selectRange: Database.Statement;
  private readonly selectHistory: Database.Statement;
  private readonly selectTrace: Database.Statement;
  private readonly selectMessage: Database.Statement;
  private readonly selectTraceRow: Database.Statement;
  private readonly selectTraceBatch: Database.Statement;
  private readonly writeBatch: (writes: LogWrite[], stamp?: CommitStamp) => void;

  /**
   * @param syncFile how a file is flushed to disk (`fs.fsync`; a test can slow it down)
   * @param lockWaitMs how long to wait for a process that still holds the file (a node
   *   restarted while its predecessor is exiting) before refusing to start
   */
  constructor(
    dataDir: string,
    nodeId: string,
    synchronous: 'full' | 'normal' = 'full',
    private readonly syncFile: SyncFile = fsync,
    lockWaitMs = 5000,
  ) {
    mkdirSync(dataDir, { recursive: true });
    this.file = join(dataDir, `${nodeId}.sqlite`);
    try {
      this.db = new Database(this.file, { timeout: lockWaitMs });
      // This process is the file's only user. EXCLUSIVE takes the file lock at the first read
      // and holds it until close: a second node started on the same file stops here instead
      // of interleaving its seqs with ours, no transaction pays for lock and unlock calls, and
      // the WAL index lives in this process's memory rather than in a shared -shm file.
      this.db.pragma('locking_mode = EXCLUSIVE');
      this.db.pragma('journal_mode = WAL');
      // SQLite itself never waits for the disk on commit (see durable()); at NORMAL it still
      // syncs the WAL before a checkpoint and the database after one.
      this.db.pragma('synchronous = NORMAL');
      this.synchronous = synchronous;
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS log (
          idx INTEGER PRIMARY KEY, sender TEXT NOT NULL, seq INTEGER NOT NULL,
          clock TEXT NOT NULL, text TEXT NOT NULL, author TEXT, sent_at TEXT NOT NULL,
          trace TEXT NOT NULL, delivered_at TEXT NOT NULL);
        CREATE UNIQUE INDEX IF NOT EXISTS log_by_message ON log (sender, seq);
        CREATE TABLE IF NOT EXISTS trace (idx INTEGER PRIMARY KEY, events TEXT NOT NULL);
      `);
      const owner = this.db
        .prepare<[], { value: string }>(`SELECT value FROM meta WHERE key = 'node_id'`)
        .get();
      if (owner && owner.value !== nodeId) {
        throw new StorageError(this.file, `belongs to node ${owner.value}, not ${nodeId}`);
      }
      if (!owner)
        this.db.prepare(`INSERT INTO meta (key, value) VALUES ('node_id', ?)`).run(nodeId);
      this.carryOverTwoTableLayout();
      this.carryOverEventRows();
      this.addColumns();
    } catch (error) {
      if (error instanceof StorageError) throw error;
      if ((error as { code?: string }).code === 'SQLITE_BUSY') {
        this.db?.close();
        throw new StorageError(
          this.file,
          'is in use by another process: is a node with this id already running on this data directory?',
        );
      }
      throw new StorageError(
        this.file,
        `cannot be opened (${(error as Error).message}); move it aside to start this node empty — it will catch up from its peers`,
      );
    }
    this.insertDelivery = this.db.prepare(
      `INSERT INTO log (idx, sender, seq, clock, text, author, sent_at, trace, delivered_at, member,
         hlc_wall, hlc_logical, true_sent_at, true_delivered_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const writeMeta = this.db.prepare(`INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)`);
    this.insertTrace = this.db.prepare(`INSERT INTO trace (events) VALUES (?)`);
    this.selectRange = this.db.prepare(
      `SELECT * FROM log WHERE sender = ? AND seq BETWEEN ? AND ? ORDER BY seq LIMIT ?`,
    );
    this.selectHistory = this.db.prepare(`SELECT * FROM log WHERE idx > ? ORDER BY idx LIMIT ?`);
    this.selectTrace = this.db.prepare(`SELECT idx, events FROM trace WHERE idx > ? ORDER BY idx`);
    this.selectMessage = this.db.prepare(`SELECT * FROM log WHERE sender = ? AND seq = ?`);
    this.selectTraceRow = this.db.prepare(`SELECT events FROM trace WHERE idx = ?`);
    this.selectTraceBatch = this.db.prepare(
      `SELECT idx, events FROM trace WHERE idx > ? ORDER BY idx LIMIT 32`,
    );
    this.writeBatch = this.db.transaction((writes: LogWrite[], stamp?: CommitStamp) => {
      // A batch's trace events go in one row: one insert per commit instead of two or three
      // per message. Rows in idx order, events in order within a row: the node's history.
      const events: TraceEvent[] = [];
      for (const write of writes) {
        const delivery = write.delivery;
        if (delivery) {
          const m = delivery.message;
          this.insertDelivery.run(
            delivery.index,
            m.sender,
            m.seq,
            JSON.stringify(m.clock),
            m.text,
            m.author ?? null,
            m.sentAt,
            JSON.stringify(m.trace),
            delivery.deliveredAt,
            m.member ? JSON.stringify(m.member) : null,
            m.hlc?.wallMs ?? null,
            m.hlc?.logical ?? null,
            m.trueSentAt === m.sentAt ? null : (m.trueSentAt ?? null),
            delivery.trueDeliveredAt === delivery.deliveredAt
              ? null
              : (delivery.trueDeliveredAt ?? null),
          );
        }
        if (write.meta)
          for (const [key, value] of Object.entries(write.meta)) writeMeta.run(key, value);
        for (const event of write.events) events.push(event);
      }
      if (events.length > 0) this.insertTrace.run(encodeTraceRow(events, stamp));
    });
    this.restored = this.readState();
    // What was committed before a crash may still sit in the page cache only (its fsync never
    // ran). Sync it now, before the node tells anyone about it, so that everything restored
    // is as durable as what it acknowledges from here on.
    if (synchronous === 'full') this.syncAtOpen();
  }

  private syncAtOpen(): void {
    try {
      const db = openSync(this.file, 'r');
      try {
        fsyncSync(db);
      } finally {
        closeSync(db);
      }
      if (existsSync(`${this.file}-wal`)) fsyncSync(this.walDescriptor());
    } catch (error) {
      this.close();
      throw new StorageError(this.file, `cannot be synced to disk: ${(error as Error).message}`);
    }
  }

  /**
   * Moves a file of the earlier layout (`messages` + `deliveries`, joined on every read)
   * into `log`, all or nothing; a crash midway leaves the old tables as they were.
   */
  private carryOverTwoTableLayout(): void {
    const tables = this.db
      .prepare<[], { name: string }>(
        `SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('messages', 'deliveries')`,
      )
      .all();
    if (tables.length < 2) return;
    this.db.transaction(() => {
      this.db.exec(`
        INSERT INTO log (idx, sender, seq, clock, text, author, sent_at, trace, delivered_at)
          SELECT d.idx, m.sender, m.seq, m.clock, m.text, m.author, m.sent_at, m.trace, d.delivered_at
          FROM deliveries d JOIN messages m ON m.sender = d.sender AND m.seq = d.seq
          ORDER BY d.idx;
        DROP TABLE deliveries;
        DROP TABLE messages;
      `);
    })();
  }

  /**
   * Files from before membership entries and simulated clocks get the columns that hold an
   * entry's change, the HLC and the true times (NULL in their old rows).
   */
  private addColumns(): void {
    const columns = new Set(
      this.db
        .prepare<[], { name: string }>(`PRAGMA table_info(log)`)
        .all()
        .map((column) => column.name),
    );
    for (const [name, type] of [
      ['member', 'TEXT'],
      ['hlc_wall', 'INTEGER'],
      ['hlc_logical', 'INTEGER'],
      ['true_sent_at', 'TEXT'],
      ['true_delivered_at', 'TEXT'],
    ])
      if (!columns.has(name)) this.db.exec(`ALTER TABLE log ADD COLUMN ${name} ${type}`);
  }

  /** Writes meta values at once, in their own transaction (a joiner's grant, before it starts). */
  writeMeta(values: Readonly<Record<string, string>>): void {
    this.write([{ events: [], meta: values }]);
    Object.assign(this.restored.meta, values);
  }

  private readState(): Restored {
    const rows = this.db
      .prepare<[], { sender: string; seq: number }>(
        `SELECT sender, MAX(seq) AS seq FROM log GROUP BY sender`,
      )
      .all();
    const lastIndex =
      this.db.prepare<[], { idx: number | null }>(`SELECT MAX(idx) AS idx FROM log`).get()?.idx ??
      0;
    const meta = this.db
      .prepare<[], { key: string; value: string }>(
        `SELECT key, value FROM meta WHERE key <> 'node_id'`,
      )
      .all();
    const last = this.db
      .prepare<[], { events: string }>(`SELECT events FROM trace ORDER BY idx DESC LIMIT 1`)
      .get();
    const hlc = last ? traceRowHlc(last.events) : undefined;
    return {
      clock: VectorClock.of(rows.map((row) => [row.sender, row.seq] as const)),
      lastIndex,
      // The event-trace clock of the last event written: every event's clock is above the ones before.
      trace: last ? decodeTraceRow(last.events).at(-1)!.clock : {},
      meta: Object.fromEntries(meta.map((row) => [row.key, row.value])),
      ...(hlc ? { hlc } : {}),
    };
  }

  /**
   * Files written before trace events were batched have an `events` table, one row per
   * event. Its events become `trace` rows (256 to a row) ahead of the batched rows, in one
   * transaction, so one cursor pages the whole trace.
   */
  private carryOverEventRows(): void {
    const legacy = this.db
      .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'events'`)
      .get();
    if (!legacy) return;
    this.db.transaction(() => {
      const rows = this.db
        .prepare<[], { clock: string; kind: TraceKind; detail: string }>(
          `SELECT clock, kind, detail FROM events ORDER BY idx`,
        )
        .all();
      this.db.exec(`CREATE TABLE trace_carried (idx INTEGER PRIMARY KEY, events TEXT NOT NULL)`);
      const insert = this.db.prepare(`INSERT INTO trace_carried (events) VALUES (?)`);
      for (let i = 0; i < rows.length; i += 256) {
        insert.run(
          encodeTraceRow(
            rows.slice(i, i + 256).map((row) => ({
              clock: JSON.parse(row.clock) as ClockJson,
              kind: row.kind,
              detail: row.detail,
            })),
          ),
        );
      }
      this.db.exec(`
        INSERT INTO trace_carried (events) SELECT events FROM trace ORDER BY idx;
        DROP TABLE trace;
        ALTER TABLE trace_carried RENAME TO trace;
        DROP TABLE events;
      `);
    })();
  }

  /**
   * Writes a batch in one transaction, with the commit's stamp (HLC and times) in its trace row. Once it returns the batch survives a crash of the
   * process (the WAL is in the operating system's hands); `durable()` says when it also
   * survives a power loss.
   */
  write(writes: LogWrite[], stamp?: CommitStamp): void {
    if (writes.length === 0) return;
    this.writeBatch(writes, stamp);
  }

  /**
   * Resolves once every commit made before the call is on disk: an fsync of the WAL that
   * started after the call has completed (at `normal`, at once). This is what
   * `synchronous=FULL` does inside COMMIT, moved off the event loop: the fsync runs on
   * libuv's thread pool while the node goes on working, and the commits made while one
   * fsync runs share the next one. The WAL is one sequential file, so that fsync also makes
   * every earlier commit durable, peers' messages included.
   */
  durable(): Promise<void> {
    if (this.synchronous === 'normal') return Promise.resolve();
    // An fsync in flight may have started before the caller's commit: it needs the next one.
    if (this.syncInFlight === undefined) return this.startSync();
    this.syncQueued ??= this.syncInFlight
      .catch(() => undefined)
      .then(() => {
        this.syncQueued = undefined;
        return this.syncInFlight ?? this.startSync();
      });
    return this.syncQueued;
  }

  private startSync(): Promise<void> {
    let resolve!: () => void;
    let reject!: (error: Error) => void;
    const run = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.syncInFlight = run;
    let fd: number;
    try {
      fd = this.walDescriptor();
    } catch (error) {
      this.syncInFlight = undefined;
      reject(new StorageError(this.file, `cannot open the WAL: ${(error as Error).message}`));
      return run;
    }
    this.syncFile(fd, (error) => {
      if (this.syncInFlight === run) this.syncInFlight = undefined;
      if (error) reject(new StorageError(this.file, `fsync failed: ${error.message}`));
      else {
        this.fsyncs++;
        resolve();
      }
    });
    return run;
  }

  /**
   * A descriptor of the WAL file, opened once. SQLite keeps that file while its connection is
   * open (checkpoints rewrite it from the start, they never replace it) and deletes it only
   * on close, so the descriptor stays valid; no stat calls per fsync.
   */
  private walDescriptor(): number {
    this.walFd ??= openSync(`${this.file}-wal`, 'r');
    return this.walFd;
  }

  /** Messages `fromSeq..toSeq` of `sender` that this node has (for a peer's repair). */
  range(sender: string, fromSeq: number, toSeq: number, limit: number): StoredMessage[] {
    return (this.selectRange.all(sender, fromSeq, toSeq, limit) as MessageRow[]).map(toStored);
  }

  /** Deliveries after index `after`, in delivery order. */
  history(after: number, limit: number): Delivery[] {
    return (this.selectHistory.all(after, limit) as DeliveryRow[]).map(toDelivery);
  }

  /**
   * Trace events in the order they happened, from the commit after `after` (a page's
   * cursor; 0 from the start) until at least `maxEvents` (whole commits, so a page may hold
   * a few more) or `maxBytes` of JSON. `next` is the cursor to read on from, or null at the end.
   */
  tracePage(after: number, maxEvents: number, maxBytes: number): TracePage {
    const events: TraceEvent[] = [];
    let bytes = 0;
    let last = after;
    for (const row of this.selectTrace.iterate(after) as IterableIterator<{
      idx: number;
      events: string;
    }>) {
      if (events.length >= maxEvents || (events.length > 0 && bytes + row.events.length > maxBytes))
        return { events, next: last };
      for (const event of decodeTraceRow(row.events)) events.push(event);
      bytes += row.events.length;
      last = row.idx;
    }
    return { events, next: null };
  }

  /**
   * Trace rows after cursor `after`, each with its events, in order (the run reads these).
   * Read a few at a time, not through an open cursor: the caller looks messages up between
   * rows, and a connection with an open iterator can run nothing else.
   */
  *traceRows(after: number): Generator<{ idx: number; events: TraceEvent[] }> {
    for (let cursor = after; ;) {
      const rows = this.selectTraceBatch.all(cursor) as { idx: number; events: string }[];
      if (rows.length === 0) return;
      for (const row of rows) yield { idx: row.idx, events: decodeTraceRow(row.events) };
      cursor = rows[rows.length - 1].idx;
    }
  }

  /** The delivery of `sender:seq` here, if this node has delivered it. */
  delivery(sender: string, seq: number): Delivery | undefined {
    const row = this.selectMessage.get(sender, seq) as DeliveryRow | undefined;
    return row && toDelivery(row);
  }

  /**
   * The trace cursor just before the first commit at or after true time `ms` (0: from the
   * start). Commits are stamped in time order, so a binary search over the rows finds it in
   * a few reads; rows from before the stamps count as earlier than any time.
   */
  traceCursorAt(ms: number): number {
    const bounds = this.db
      .prepare<[], { lo: number | null; hi: number | null }>(
        `SELECT MIN(idx) AS lo, MAX(idx) AS hi FROM trace`,
      )
      .get();
    if (!bounds || bounds.lo === null || bounds.hi === null) return 0;
    let lo = bounds.lo;
    let hi = bounds.hi + 1; // the first row stamped at or after ms is in [lo, hi)
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const row = this.selectTraceRow.get(mid) as { events: string } | undefined;
      const at = row ? decodeTraceRow(row.events)[0]?.at : undefined;
      if (at === undefined || at < ms) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }

  close(): void {
    if (this.db.open) this.db.close();
    if (this.walFd !== undefined) closeSync(this.walFd);
    this.walFd = undefined;
  }

  /** Nest calls this last, after the replica has flushed its final batch. */
  onApplicationShutdown(): void {
    this.close();
  }
}

export function toDelivery(row: DeliveryRow): Delivery {
  return {
    index: row.idx,
    deliveredAt: row.delivered_at,
    ...(row.true_delivered_at !== null ? { trueDeliveredAt: row.true_delivered_at } : {}),
    message: toStored(row),
  };
}

function toStored(row: MessageRow): StoredMessage {
  return {
    id: `${row.sender}:${row.seq}`,
    sender: row.sender,
    seq: row.seq,
    clock: VectorClock.of(JSON.parse(row.clock) as ClockJson),
    text: row.text,
    ...(row.author !== null ? { author: row.author } : {}),
    sentAt: row.sent_at,
    ...(row.hlc_wall !== null ? { hlc: { wallMs: row.hlc_wall, logical: row.hlc_logical! } } : {}),
    ...(row.true_sent_at !== null ? { trueSentAt: row.true_sent_at } : {}),
    trace: JSON.parse(row.trace) as ClockJson,
    ...(row.member ? { member: JSON.parse(row.member) as MemberChange } : {}),
  };
}

/** The API view of a stored message, clock listing every member in member order. */
export function toChatMessage(
  message: StoredMessage,
  members: readonly string[],
  delivery?: Omit<Delivery, 'message'>,
): ChatMessage {
  return {
    id: message.id,
    sender: message.sender,
    seq: message.seq,
    clock: message.clock.toRecord(members),
    text: message.text,
    ...(message.author !== undefined ? { author: message.author } : {}),
    sentAt: message.sentAt,
    ...(message.hlc ? { hlc: message.hlc } : {}),
    // True times only where the clock was wrong: absent, they are sentAt and deliveredAt.
    ...(message.trueSentAt !== undefined && message.trueSentAt !== message.sentAt
      ? { trueSentAt: message.trueSentAt }
      : {}),
    ...(message.member ? { member: message.member } : {}),
    ...(delivery
      ? {
          index: delivery.index,
          deliveredAt: delivery.deliveredAt,
          ...(delivery.trueDeliveredAt !== undefined &&
          delivery.trueDeliveredAt !== delivery.deliveredAt
            ? { trueDeliveredAt: delivery.trueDeliveredAt }
            : {}),
        }
      : {}),
  };
}
