import { InvalidClockError, InvalidHlcError, parseHlc, VectorClock } from '@app/causal';
import { ClockJson, ConfigError, Limits, parseMemberChange } from '@app/contracts';
import type { StoredMessage } from '../storage/message-log';

/** A message from the network that cannot be accepted; `field` says which part is wrong. */
export class InvalidReplicaMessageError extends Error {
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'InvalidReplicaMessageError';
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function clockField(value: unknown, field: string, members: ReadonlySet<string>): VectorClock {
  try {
    return VectorClock.parse(value, members);
  } catch (error) {
    if (error instanceof InvalidClockError) {
      throw new InvalidReplicaMessageError(
        `${field}${error.field ? `.${error.field}` : ''}`,
        error.reason,
      );
    }
    throw error;
  }
}

/**
 * Validates a replicated message from a peer: a known sender, a seq equal to its own clock
 * entry, a valid clock over the members, text and author within limits, an ISO timestamp.
 */
export function parseReplicaMessage(
  untrusted: unknown,
  members: ReadonlySet<string>,
): StoredMessage {
  if (!isRecord(untrusted)) throw new InvalidReplicaMessageError('message', 'must be an object');
  const { sender, seq, text, author, sentAt } = untrusted;
  if (typeof sender !== 'string' || !members.has(sender)) {
    throw new InvalidReplicaMessageError(
      'sender',
      `must be a member id, got ${JSON.stringify(sender)}`,
    );
  }
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) {
    throw new InvalidReplicaMessageError(
      'seq',
      `must be a positive safe integer, got ${JSON.stringify(seq)}`,
    );
  }
  const clock = clockField(untrusted.clock, 'clock', members);
  if (clock.get(sender) !== seq) {
    throw new InvalidReplicaMessageError(
      'seq',
      `must equal clock.${sender} (${clock.get(sender)}), got ${seq}`,
    );
  }
  if (typeof text !== 'string' || text.length === 0 || text.length > Limits.textMaxChars) {
    throw new InvalidReplicaMessageError(
      'text',
      `must be a string of 1..${Limits.textMaxChars} characters`,
    );
  }
  if (
    author !== undefined &&
    (typeof author !== 'string' || author.length > Limits.authorMaxChars)
  ) {
    throw new InvalidReplicaMessageError(
      'author',
      `must be a string of at most ${Limits.authorMaxChars} characters`,
    );
  }
  if (typeof sentAt !== 'string' || sentAt.length > 40 || Number.isNaN(Date.parse(sentAt))) {
    throw new InvalidReplicaMessageError('sentAt', 'must be an ISO date-time');
  }
  let hlc;
  if (untrusted.hlc !== undefined) {
    try {
      hlc = parseHlc(untrusted.hlc);
    } catch (error) {
      if (!(error instanceof InvalidHlcError)) throw error;
      throw new InvalidReplicaMessageError(
        error.field ? `hlc.${error.field}` : 'hlc',
        error.reason,
      );
    }
  }
  const { trueSentAt } = untrusted;
  if (
    trueSentAt !== undefined &&
    (typeof trueSentAt !== 'string' ||
      trueSentAt.length > 40 ||
      Number.isNaN(Date.parse(trueSentAt)))
  ) {
    throw new InvalidReplicaMessageError('trueSentAt', 'must be an ISO date-time');
  }
  const trace = clockField(untrusted.trace ?? {}, 'trace', members);
  let member;
  if (untrusted.member !== undefined) {
    try {
      member = parseMemberChange(untrusted.member);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      throw new InvalidReplicaMessageError('member', error.message);
    }
  }
  return {
    id: `${sender}:${seq}`,
    sender,
    seq,
    clock,
    text,
    ...(author !== undefined ? { author } : {}),
    sentAt,
    ...(hlc ? { hlc } : {}),
    ...(trueSentAt !== undefined ? { trueSentAt } : {}),
    trace: trace.toJSON() as ClockJson,
    ...(member ? { member } : {}),
  };
}

export interface SendRequest {
  readonly text: string;
  readonly author?: string;
  /** A message (`sender:seq`) this one answers: the node first waits until it has delivered it. */
  readonly replyTo?: { readonly sender: string; readonly seq: number };
}

const MESSAGE_ID = /^([A-Za-z][A-Za-z0-9_-]{0,31}):([1-9]\d{0,14})$/;

/** A send request from the gateway: trimmed text within limits, optional author and replyTo. */
export function parseSendRequest(untrusted: unknown, members?: ReadonlySet<string>): SendRequest {
  if (!isRecord(untrusted))
    throw new InvalidReplicaMessageError('body', 'must be an object with text');
  const { text, author, replyTo } = untrusted;
  if (typeof text !== 'string') throw new InvalidReplicaMessageError('text', 'must be a string');
  const trimmed = text.trim();
  if (trimmed.length === 0) throw new InvalidReplicaMessageError('text', 'must not be empty');
  if (trimmed.length > Limits.textMaxChars) {
    throw new InvalidReplicaMessageError(
      'text',
      `must be at most ${Limits.textMaxChars} characters, got ${trimmed.length}`,
    );
  }
  let request: SendRequest = { text: trimmed };
  if (author !== undefined && author !== null) {
    if (typeof author !== 'string' || author.trim().length > Limits.authorMaxChars) {
      throw new InvalidReplicaMessageError(
        'author',
        `must be a string of at most ${Limits.authorMaxChars} characters`,
      );
    }
    if (author.trim().length > 0) request = { ...request, author: author.trim() };
  }
  if (replyTo !== undefined && replyTo !== null) {
    const match = typeof replyTo === 'string' ? MESSAGE_ID.exec(replyTo) : null;
    if (!match || (members && !members.has(match[1]))) {
      throw new InvalidReplicaMessageError(
        'replyTo',
        `must be a message id "node:seq" of this cluster, got ${JSON.stringify(replyTo)}`,
      );
    }
    request = { ...request, replyTo: { sender: match[1], seq: Number(match[2]) } };
  }
  return request;
}
