import { mkdtempSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VectorClock } from '@app/causal';
import { LogWrite, MessageLog, StoredMessage } from './message-log';

const FULL = 2;
const NORMAL = 1;

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

describe('MessageLog', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'message-log-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('waits for the disk only for commits that acknowledge something', () => {
    const log = new MessageLog(dir, 'n0', 'full');
    expect(log.syncLevel()).toBe(FULL);
    log.write([delivery(1, 'n1', 1)], false); // a peer's message: NORMAL is enough
    expect(log.syncLevel()).toBe(NORMAL);
    log.write([delivery(2, 'n0', 1)], true); // our own origination: back to FULL
    expect(log.syncLevel()).toBe(FULL);
    log.close();
  });

  it('never raises a configured NORMAL to FULL', () => {
    const log = new MessageLog(dir, 'n0', 'normal');
    log.write([delivery(1, 'n0', 1)], true);
    expect(log.syncLevel()).toBe(NORMAL);
    log.close();
  });

  it('keeps both kinds of commit across a reopen, in delivery order', () => {
    const log = new MessageLog(dir, 'n0', 'full');
    log.write([delivery(1, 'n1', 1), delivery(2, 'n1', 2)], false);
    log.write([delivery(3, 'n0', 1)], true);
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
    log.write([delivery(1, 'n0', 1), delivery(2, 'n0', 2)], true);
    log.write([{ events: [{ clock: { n0: 3, n1: 1 }, kind: 'receive', detail: 'n1:1' }] }], false);
    log.close();
    const reopened = new MessageLog(dir, 'n0', 'full');
    expect(reopened.events().map((e) => `${e.kind} ${e.detail} ${e.clock.n0}`)).toEqual([
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
    db.prepare(`INSERT INTO events (clock, kind, detail) VALUES (?, 'send', 'n0:1 "old"')`).run(
      JSON.stringify({ n0: 1 }),
    );
    db.close();
    const log = new MessageLog(dir, 'n0', 'full');
    expect(log.restored.trace).toEqual({ n0: 1 });
    log.write([{ events: [{ clock: { n0: 2 }, kind: 'deliver', detail: 'n0:1' }] }], true);
    expect(log.events().map((e) => e.clock.n0)).toEqual([1, 2]);
    log.close();
  });
});
