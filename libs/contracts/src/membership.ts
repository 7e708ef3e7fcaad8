import { ConfigError, Member, NODE_ID_PATTERN } from './members';

/**
 * Where a member is in its life: `admitted` (an operator let it in; it may join and is
 * caught up by its peers), `active` (it joined: its "joined" entry is in the log) and
 * `retired` (it left for good; its messages stay, nobody waits for it).
 */
export type MemberState = 'admitted' | 'active' | 'retired';

/** One member as the cluster knows it. `address` is `host:port` of its ROUTER; PUB is port + 1. */
export interface MemberRecord extends Member {
  readonly address: string;
  /** Its CURVE public key (Z85); absent when the cluster runs without CURVE. */
  readonly publicKey?: string;
  readonly state: MemberState;
  /** The log entry that put it in its state (`sender:seq`), or null for a founding member. */
  readonly since: string | null;
}

/**
 * A change of membership. It travels as a message of the causal log (its `member` field), so
 * every node applies it at the same place of its history, after everything it depends on.
 */
export type MemberChange =
  | {
      readonly op: 'admit';
      readonly id: string;
      readonly address: string;
      readonly publicKey?: string;
    }
  /** The joiner's own first message: causally after all it caught up on. */
  | { readonly op: 'join'; readonly id: string }
  /** Every message of `id` up to `lastSeq` is causally before this entry. */
  | { readonly op: 'retire'; readonly id: string; readonly lastSeq: number };

/** A node's view of the membership; `version` counts the changes it has applied. */
export interface MembershipView {
  readonly nodeId: string;
  readonly version: number;
  readonly members: MemberRecord[];
}

/** What a member answers a joiner: the membership, whom to admit besides, where to catch up to. */
export interface JoinGrant extends MembershipView {
  /** Public keys of the processes that are not members but may connect (the gateways). */
  readonly clients: Record<string, string>;
  /** The member's clock when it granted the join: the joiner's "joined" comes after it. */
  readonly clock: Record<string, number>;
}

/** `tcp://host:port` of a member at `host:port`, and its PUB one port up. */
export function memberAt(id: string, address: string, field = 'address'): Member {
  const match = /^(.+):(\d+)$/.exec(address);
  if (!match) throw new ConfigError(field, `"${address}" is not host:port`);
  const port = Number(match[2]);
  if (!Number.isSafeInteger(port) || port < 1 || port > 65534)
    throw new ConfigError(field, `port must be 1..65534, got ${match[2]}`);
  return { id, rpc: `tcp://${match[1]}:${port}`, pub: `tcp://${match[1]}:${port + 1}` };
}

/** `host:port` of a member's ROUTER endpoint. */
export const addressOf = (member: Member) => member.rpc.replace(/^tcp:\/\//, '');

/** A founding member (from CHAT_MEMBERS) as a record: active since before any entry. */
export function foundingRecord(member: Member, publicKey?: string): MemberRecord {
  return {
    ...member,
    address: addressOf(member),
    ...(publicKey ? { publicKey } : {}),
    state: 'active',
    since: null,
  };
}

/** Validates a membership change from the network or an operator; `field` names the culprit. */
export function parseMemberChange(untrusted: unknown): MemberChange {
  const fail = (field: string, reason: string): never => {
    throw new ConfigError(`member.${field}`, reason);
  };
  if (typeof untrusted !== 'object' || untrusted === null) return fail('op', 'must be an object');
  const { op, id, address, publicKey, lastSeq } = untrusted as Record<string, unknown>;
  if (typeof id !== 'string' || !NODE_ID_PATTERN.test(id))
    fail('id', 'must be a letter then up to 31 letters, digits, _ or -');
  const memberId = id as string;
  switch (op) {
    case 'admit': {
      if (typeof address !== 'string' || address.length > 300) fail('address', 'must be host:port');
      memberAt(memberId, address as string, 'member.address');
      if (publicKey !== undefined && (typeof publicKey !== 'string' || publicKey.length !== 40))
        fail('publicKey', 'must be a 40-character Z85 CURVE public key');
      return {
        op,
        id: memberId,
        address: address as string,
        ...(publicKey !== undefined ? { publicKey: publicKey as string } : {}),
      };
    }
    case 'join':
      return { op, id: memberId };
    case 'retire':
      if (!Number.isSafeInteger(lastSeq) || (lastSeq as number) < 0)
        fail('lastSeq', 'must be a non-negative integer');
      return { op, id: memberId, lastSeq: lastSeq as number };
    default:
      return fail('op', `must be admit, join or retire, got ${JSON.stringify(op)}`);
  }
}

/** The text a membership entry carries in the log, for people reading it. */
export function describeChange(change: MemberChange): string {
  switch (change.op) {
    case 'admit':
      return `${change.id} was admitted at ${change.address}`;
    case 'join':
      return `${change.id} joined`;
    case 'retire':
      return `${change.id} was retired after its message ${change.id}:${change.lastSeq}`;
  }
}
