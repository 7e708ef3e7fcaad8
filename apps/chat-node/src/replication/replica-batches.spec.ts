import { Limits, ReplicaMessage } from '@app/contracts';
import { BATCH_BYTES_MAX, replicaBatches, wireBytesBound } from './replica-batches';

const MIB = 1024 * 1024;

function message(seq: number, members: number, text: string, author?: string): ReplicaMessage {
  const clock: Record<string, number> = {};
  for (let i = 0; i < members; i++)
    clock[`node-with-a-long-id-${String(i).padStart(11, '0')}`] = Number.MAX_SAFE_INTEGER;
  return {
    id: `n0:${seq}`,
    sender: 'n0',
    seq,
    clock,
    text,
    ...(author !== undefined ? { author } : {}),
    sentAt: '2026-11-25T12:00:00.000Z',
    trace: { ...clock },
  };
}

const frameBytes = (batch: ReplicaMessage[]) =>
  Buffer.byteLength(JSON.stringify({ pattern: 'replica.messages', data: { messages: batch } }));

describe('replicaBatches', () => {
  it('bounds the real size of the worst message (every character escaped, long ids)', () => {
    const worst = message(1, 40, '\u0000'.repeat(Limits.textMaxChars), '\u0001'.repeat(64));
    expect(Buffer.byteLength(JSON.stringify(worst))).toBeLessThanOrEqual(wireBytesBound(worst));
    const wide = message(1, 40, '語'.repeat(Limits.textMaxChars));
    expect(Buffer.byteLength(JSON.stringify(wide))).toBeLessThanOrEqual(wireBytesBound(wide));
  });

  it('keeps every batch under the frame limit and the count limit, in order', () => {
    const messages = Array.from({ length: 300 }, (_, i) =>
      message(i + 1, 40, '\u0000'.repeat(Limits.textMaxChars)),
    );
    const batches = replicaBatches(messages);
    expect(batches.length).toBeGreaterThan(300 / Limits.replicaBatchMax); // size-bound, not count
    for (const batch of batches) {
      expect(batch.length).toBeLessThanOrEqual(Limits.replicaBatchMax);
      expect(frameBytes(batch)).toBeLessThan(MIB);
    }
    expect(batches.flat().map((m) => m.seq)).toEqual(messages.map((m) => m.seq));
  });

  it('packs small messages 64 to a batch', () => {
    const messages = Array.from({ length: 130 }, (_, i) => message(i + 1, 3, 'hi'));
    expect(replicaBatches(messages).map((b) => b.length)).toEqual([64, 64, 2]);
    expect(BATCH_BYTES_MAX).toBeLessThan(MIB);
  });

  it('sends a message alone when it is all a batch can hold', () => {
    expect(replicaBatches([message(1, 3, 'x')])).toHaveLength(1);
    expect(replicaBatches([])).toEqual([]);
  });
});
