import { Inject, Injectable, Logger } from '@nestjs/common';
import { VectorClock } from '@app/causal';
import {
  foundingRecord,
  MemberChange,
  memberAt,
  MemberRecord,
  MembershipView,
} from '@app/contracts';
import type { NodeConfig } from '../config/node.config';
import { NODE_CONFIG } from '../config/node.tokens';
import { MessageLog } from '../storage/message-log';

/**
 * Meta keys of the data file: the membership after the last change, a joiner's grant (the
 * clock to catch up to) and the gateway keys that came with it.
 */
export const MEMBERSHIP_KEY = 'membership';
export const JOIN_GRANT_KEY = 'join_grant';
export const JOIN_CLIENTS_KEY = 'join_clients';

/** What a joiner keeps of its grant: where to catch up to before it says "joined". */
export interface StoredGrant {
  readonly clock: Record<string, number>;
}

/** An entry of the log that changes the membership (a stored message with `member`). */
export interface MembershipEntry {
  readonly id: string;
  readonly sender: string;
  readonly seq: number;
  readonly clock: VectorClock;
  readonly member?: MemberChange;
}

type Listener = (record: MemberRecord, previous: MemberRecord | undefined) => void;

/**
 * The members this node knows, and how they change. Changes are entries of the causal log
 * (see Replica), applied when this node delivers them: every node applies the same changes
 * after the same causal past, so "n3 joined" has one well-defined place in every history.
 * The membership after a change is written in the same transaction as the entry's delivery,
 * so a restarted node resumes with exactly the membership its log implies.
 *
 * Rules (the same at every node, whatever order concurrent entries arrive in):
 * - admit: a new id becomes `admitted`. Two admits of the same id that neither saw (two
 *   coordinators at once) resolve to the one with the smaller entry id; an admit of an id
 *   already known is otherwise ignored.
 * - join: only the member itself can say it joined (its own first message); `admitted` ->
 *   `active`.
 * - retire: `admitted`/`active` -> `retired`, for good: an id is never reused, since its
 *   clock entry stays in every message that saw it.
 */
@Injectable()
export class Membership {
  /** Every id this node has known, in order: clocks list them (a retired one keeps its count). */
  readonly ids: string[] = [];
  /** The same ids as a set: what a clock or a sender may name. */
  readonly known = new Set<string>();
  /** PUB endpoint -> member: the origin of a replica event. */
  readonly publishers = new Map<string, string>();
  private readonly records = new Map<string, MemberRecord>();
  private readonly listeners: Listener[] = [];
  private readonly logger = new Logger(Membership.name);
  version = 0;

  constructor(
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
    log: MessageLog,
  ) {
    const stored = log.restored.meta[MEMBERSHIP_KEY];
    if (stored) {
      const view = JSON.parse(stored) as { version: number; members: MemberRecord[] };
      this.version = view.version;
      for (const record of view.members) this.put(record);
    } else {
      for (const member of config.members)
        this.put(foundingRecord(member, config.curve?.publicKeys[member.id]));
    }
  }

  get self(): MemberRecord {
    return this.records.get(this.config.nodeId)!;
  }

  get(id: string): MemberRecord | undefined {
    return this.records.get(id);
  }

  /** Members that are not retired (admitted or active), this node included. */
  current(): MemberRecord[] {
    return this.ids.map((id) => this.records.get(id)!).filter((r) => r.state !== 'retired');
  }

  /** Members this node replicates with: not retired, not itself. */
  peers(): MemberRecord[] {
    return this.current().filter((r) => r.id !== this.config.nodeId);
  }

  all(): MemberRecord[] {
    return this.ids.map((id) => this.records.get(id)!);
  }

  view(): MembershipView {
    return { nodeId: this.config.nodeId, version: this.version, members: this.all() };
  }

  /** The membership as the data file keeps it. */
  serialized(): string {
    return JSON.stringify({ version: this.version, members: this.all() });
  }

  onChange(listener: Listener): void {
    this.listeners.push(listener);
  }

  /**
   * Applies a delivered entry; returns true when the membership changed (the caller then
   * writes `serialized()` with the delivery).
   */
  apply(entry: MembershipEntry): boolean {
    const change = entry.member;
    if (!change) return false;
    const previous = this.records.get(change.id);
    let next: MemberRecord | undefined;
    switch (change.op) {
      case 'admit': {
        const fresh: MemberRecord = {
          ...memberAt(change.id, change.address),
          address: change.address,
          ...(change.publicKey ? { publicKey: change.publicKey } : {}),
          state: 'admitted',
          since: entry.id,
        };
        if (!previous) next = fresh;
        else if (
          previous.state === 'admitted' &&
          previous.since &&
          this.wins(entry, previous.since)
        )
          next = fresh;
        break;
      }
      case 'join':
        if (previous?.state === 'admitted' && entry.sender === change.id)
          next = { ...previous, state: 'active', since: entry.id };
        break;
      case 'retire':
        if (previous && previous.state !== 'retired')
          next = { ...previous, state: 'retired', since: entry.id };
        break;
    }
    if (!next) {
      this.logger.debug(`membership entry ${entry.id} (${change.op} ${change.id}) changes nothing`);
      return false;
    }
    this.put(next);
    this.version++;
    for (const listener of this.listeners) listener(next, previous);
    return true;
  }

  /**
   * An admit `entry` that did not see the one that admitted the id first (`since`) wins when
   * its id is smaller: concurrent admits settle the same way at every node.
   */
  private wins(entry: MembershipEntry, since: string): boolean {
    const [sender, seq] = since.split(':');
    const saw = entry.clock.get(sender) >= Number(seq);
    return !saw && entry.id < since;
  }

  private put(record: MemberRecord): void {
    const previous = this.records.get(record.id);
    if (!previous) {
      this.ids.push(record.id);
      this.known.add(record.id);
    } else if (previous.pub !== record.pub) this.publishers.delete(previous.pub);
    this.records.set(record.id, record);
    if (record.state === 'retired') this.publishers.delete(record.pub);
    else this.publishers.set(record.pub, record.id);
  }
}
