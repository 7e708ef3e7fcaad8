import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { of } from 'rxjs';
import { CausalBuffer, VectorClock } from '@app/causal';
import { ChatMessage, DeliveredEvent, NodeEvents, ReplicaEvents } from '@app/contracts';
import type { ZmqClient } from '@app/zmq-transport';
import type { NodeConfig } from '../config/node.config';
import { MessageLog, StoredMessage } from '../storage/message-log';
import { Membership } from '../membership/membership';
import { PhysicalClock } from '../time/physical-clock';
import { Replica } from './replica';

type SyncDone = (error: NodeJS.ErrnoException | null) => void;
const turn = () => new Promise((resolve) => setImmediate(resolve));

/** A replica on a real SQLite file whose fsyncs complete when the test says so. */
function setup(
  dir: string,
  onStorageFailure?: (error: Error) => void,
  physical: PhysicalClock = new PhysicalClock(),
) {
  const fsyncs: SyncDone[] = [];
  const log = new MessageLog(dir, 'n0', 'full', (_fd, done) => fsyncs.push(done));
  const emitted: { pattern: string; data: unknown }[] = [];
  const publisher = {
    emit: (pattern: string, data: unknown) => {
      emitted.push({ pattern, data });
      return of(undefined);
    },
  } as unknown as ZmqClient;
  const config = {
    nodeId: 'n0',
    members: [
      { id: 'n0', rpc: 'tcp://127.0.0.1:7000', pub: 'tcp://127.0.0.1:7001' },
      { id: 'n1', rpc: 'tcp://127.0.0.1:7010', pub: 'tcp://127.0.0.1:7011' },
    ],
    bufferCapacity: 100,
  } as unknown as NodeConfig;
  const buffer = new CausalBuffer<StoredMessage>({
    capacity: 100,
    nodeId: 'n0',
    initial: log.restored.clock,
  });
  const replica = new Replica(
    config,
    buffer,
    log,
    publisher,
    new Membership(config, log),
    onStorageFailure,
    undefined,
    physical,
  );
  return { replica, log, fsyncs, emitted };
}

function fromPeer(seq: number): StoredMessage {
  return {
    id: `n1:${seq}`,
    sender: 'n1',
    seq,
    clock: VectorClock.of({ n1: seq }),
    text: `peer ${seq}`,
    sentAt: '2026-11-25T12:00:00.000Z',
    trace: { n1: seq },
  };
}

describe('Replica: commits are answered once durable, in commit order', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'replica-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('answers, publishes and announces a batch only after its fsync, batches in order', async () => {
    const { replica, log, fsyncs, emitted } = setup(dir);
    const answered: string[] = [];
    const first = replica.originate('one').then((m) => answered.push(m.id));
    await turn(); // batch 1 committed, its fsync started
    expect(fsyncs).toHaveLength(1);
    const second = replica.originate('two').then((m) => answered.push(m.id));
    await turn(); // batch 2 committed, its fsync queued behind the first
    replica.accept(fromPeer(1));
    await turn(); // batch 3: a peer's message only, yet it must wait behind batches 1 and 2
    expect(answered).toEqual([]);
    expect(emitted).toEqual([]);
    expect(log.history(0, 10).map((d) => d.message.id)).toEqual(['n0:1', 'n0:2', 'n1:1']);

    fsyncs.shift()!(null);
    await first;
    await turn();
    expect(answered).toEqual(['n0:1']);
    expect(emitted.map((e) => e.pattern)).toEqual([ReplicaEvents.message, NodeEvents.delivered]);
    expect(fsyncs).toHaveLength(1); // the fsync for batch 2 started after batch 1's ended

    fsyncs.shift()!(null);
    await second;
    await turn();
    expect(answered).toEqual(['n0:1', 'n0:2']);
    const announced = emitted
      .filter((e) => e.pattern === NodeEvents.delivered)
      .flatMap((e) => (e.data as DeliveredEvent).messages.map((m: ChatMessage) => m.index));
    expect(announced).toEqual([1, 2, 3]); // the peer's batch went out last, as committed
    await replica.onModuleDestroy();
    log.close();
  });

  it('stops at a failed fsync: nothing of that batch or any later one leaves the node', async () => {
    const failures: Error[] = [];
    const { replica, log, fsyncs, emitted } = setup(dir, (error) => failures.push(error));
    const first = replica.originate('one');
    await turn();
    const second = replica.originate('two').catch((error: Error) => error);
    await turn(); // batch 2 committed, its fsync queued behind batch 1's
    replica.accept(fromPeer(1));
    await turn(); // batch 3: a peer's message, behind batch 2
    fsyncs.shift()!(null);
    await first;
    await turn();
    const published = emitted.length; // batch 1: its message and its announcement
    expect(published).toBe(2);

    fsyncs.shift()!(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }));
    const failure = await second;
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toMatch(
      /node n0: storage failed: .*fsync failed: EIO.*not acknowledged/,
    );
    await turn();
    expect(failures).toHaveLength(1);
    expect(emitted).toHaveLength(published); // neither n0:2 nor the delivery of n1:1
    await expect(replica.originate('three')).rejects.toThrow(/storage failed/);
    replica.accept(fromPeer(2));
    await turn();
    expect(emitted).toHaveLength(published);
    expect(replica.stored('n0', 1, 10, 10)).toEqual([]); // not even n0:1: the disk is in doubt
    expect(failures).toHaveLength(1);
    await replica.onModuleDestroy();
    log.close();
  });

  it("serves a peer's fetch of its own messages only once they are on disk", async () => {
    const { replica, log, fsyncs } = setup(dir);
    const first = replica.originate('one');
    await turn();
    expect(log.range('n0', 1, 5, 10)).toHaveLength(1); // committed...
    expect(replica.stored('n0', 1, 5, 10)).toEqual([]); // ...but not yet synced
    fsyncs.shift()!(null);
    await first;
    expect(replica.stored('n0', 1, 5, 10).map((m) => m.id)).toEqual(['n0:1']);
    replica.accept(fromPeer(1));
    await turn(); // a peer's message is served at once: it is durable at its origin
    expect(replica.stored('n1', 1, 5, 10).map((m) => m.id)).toEqual(['n1:1']);
    await replica.onModuleDestroy();
    log.close();

    // After a restart everything in the file counts as on disk (it is synced on open).
    const again = setup(dir);
    expect(again.replica.stored('n0', 1, 5, 10).map((m) => m.id)).toEqual(['n0:1']);
    await again.replica.onModuleDestroy();
    again.log.close();
  });

  it('shows clients a history that ends before its first own message not yet on disk', async () => {
    const { replica, log, fsyncs } = setup(dir);
    const ids = (after = 0) => replica.history(after, 10).map((m) => m.id);
    replica.accept(fromPeer(1));
    await turn(); // a peer's message alone: announced, and listed, at once
    expect(ids()).toEqual(['n1:1']);
    const own = replica.originate('one');
    await turn();
    replica.accept(fromPeer(2));
    await turn(); // committed behind n0:1, which waits for its fsync
    expect(log.history(0, 10).map((d) => d.message.id)).toEqual(['n1:1', 'n0:1', 'n1:2']);
    expect(ids()).toEqual(['n1:1']); // a prefix: n1:2 is not listed past the gap either
    expect(ids(1)).toEqual([]);
    expect(replica.announcedIndex).toBe(1); // three stored, one announced
    fsyncs.shift()!(null);
    await own;
    await turn(); // the peer's batch is announced right after the one it waited for
    expect(ids()).toEqual(['n1:1', 'n0:1', 'n1:2']);
    expect(ids(1)).toEqual(['n0:1', 'n1:2']);
    expect(replica.announcedIndex).toBe(3);
    await replica.onModuleDestroy();
    log.close();
  });

  it('stamps with its physical clock, merges a peer’s HLC at delivery, and resumes above it after a restart', async () => {
    let trueMs = 1_800_000_000_000;
    const clock = new PhysicalClock(() => trueMs, -5_000);
    const { replica, log, fsyncs } = setup(dir, undefined, clock);
    const own = replica.originate('one');
    await turn();
    fsyncs.shift()!(null);
    const one = await own;
    expect(one.sentAt).toBe(new Date(trueMs - 5_000).toISOString());
    expect(one.trueSentAt).toBe(new Date(trueMs).toISOString());
    expect(one.hlc).toEqual({ wallMs: trueMs - 5_000, logical: 0 });
    // A peer whose clock is an hour ahead: delivering its message moves this HLC there.
    replica.accept({ ...fromPeer(1), hlc: { wallMs: trueMs + 3_600_000, logical: 4 } });
    await turn();
    expect(replica.hlcNow()).toEqual({ wallMs: trueMs + 3_600_000, logical: 5 });
    // One 16 days ahead is refused before the buffer, and counted.
    replica.accept({ ...fromPeer(2), hlc: { wallMs: trueMs + 16 * 86_400_000, logical: 0 } });
    expect(replica.counters.rejected).toBe(1);
    await replica.onModuleDestroy();
    log.close();

    // Restarted with its clock stepped back a day: its next message still sorts after.
    trueMs += 1_000;
    const again = setup(dir, undefined, new PhysicalClock(() => trueMs, -86_400_000));
    const next = again.replica.originate('two');
    await turn();
    again.fsyncs.shift()!(null);
    expect((await next).hlc).toEqual({ wallMs: 1_800_000_000_000 + 3_600_000, logical: 6 });
    expect(again.log.history(0, 10).map((d) => d.message.hlc?.logical)).toEqual([0, 4, 6]);
    await again.replica.onModuleDestroy();
    again.log.close();
  });
});
