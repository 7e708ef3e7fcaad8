import { Limits, ReplicaMessage } from '@app/contracts';

/** Below the transport's 1 MiB frame limit, with room for the envelope. */
export const BATCH_BYTES_MAX = 768 * 1024;

/**
 * An upper bound of the bytes `m` takes in a JSON frame, without serializing it: a text
 * character is at most 6 bytes (`\uXXXX`), a clock entry at most 64 (an id of up to 32
 * characters and a safe integer, quoted and separated), the rest of the record 256.
 */
export function wireBytesBound(m: ReplicaMessage): number {
  const clockEntries = Object.keys(m.clock).length + Object.keys(m.trace).length;
  return 6 * (m.text.length + (m.author?.length ?? 0)) + 64 * clockEntries + 256;
}

/**
 * Splits a group commit's originations, in order, into `replica.messages` batches of at
 * most {@link Limits.replicaBatchMax} messages and {@link BATCH_BYTES_MAX} bytes, so a
 * batch is never dropped as oversize however large the cluster or the texts.
 */
export function replicaBatches(messages: readonly ReplicaMessage[]): ReplicaMessage[][] {
  const batches: ReplicaMessage[][] = [];
  let current: ReplicaMessage[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = wireBytesBound(m);
    if (
      current.length > 0 &&
      (current.length === Limits.replicaBatchMax || bytes + size > BATCH_BYTES_MAX)
    ) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(m);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
