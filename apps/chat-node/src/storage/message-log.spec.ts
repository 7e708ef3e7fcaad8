import { mkdtempSync, rmSync } from 'node:fs';
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
    const restored = reopened.restore();
    expect(restored.clock.toJSON()).toEqual({ n0: 1, n1: 2 });
    expect(restored.lastIndex).toBe(3);
    expect(reopened.history(0, 10).map((d) => d.message.id)).toEqual(['n1:1', 'n1:2', 'n0:1']);
    reopened.close();
  });
});
