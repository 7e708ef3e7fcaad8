import { Controller, Inject, Logger, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import {
  ConfigError,
  JoinGrant,
  MembershipView,
  parseMemberChange,
  Requests,
} from '@app/contracts';
import type { NodeConfig } from '../config/node.config';
import { NODE_CONFIG } from '../config/node.tokens';
import {
  InvalidReplicaMessageError,
  parseReplicaMessage,
} from '../replication/replica-message.parser';
import { Repair } from '../replication/repair';
import { Replica } from '../replication/replica';
import { RpcErrorFilter } from '../replication/rpc-error.filter';
import { Membership } from './membership';
import { PeerLinks } from './peer-links';

/** How long a join grant is reserved for the process that asked first (ms). */
const JOIN_LEASE_MS = 30_000;

const refuse = (code: 'UNKNOWN' | 'CONFLICT' | 'INVALID', message: string, field?: string) =>
  new RpcException({ code, message, ...(field ? { field } : {}) });

/**
 * Membership requests: the operator's admit and retire (through the gateway), a joiner's
 * grant, and a coordinator's drain and leave. A node coordinates one change at a time; the
 * change itself is an entry of its causal log, applied by every node when it delivers it.
 */
@Controller()
@UseFilters(RpcErrorFilter)
export class MembershipController {
  private readonly logger = new Logger(MembershipController.name);
  /** One change at a time: each checks the membership the previous one left. */
  private queue: Promise<unknown> = Promise.resolve();
  /** id -> the nonce of the joiner that asked first, and when. */
  private readonly leases = new Map<string, { nonce: string; at: number }>();

  constructor(
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
    private readonly membership: Membership,
    private readonly replica: Replica,
    private readonly repair: Repair,
    private readonly links: PeerLinks,
  ) {}

  @MessagePattern(Requests.membership)
  view(): MembershipView {
    return this.membership.view();
  }

  @MessagePattern(Requests.admit)
  admit(@Payload() body: unknown): Promise<MembershipView> {
    return this.serialized(async () => {
      const change = parseChange({ ...(body as object), op: 'admit' });
      if (change.op !== 'admit') throw refuse('INVALID', 'not an admission');
      this.assertCoordinating();
      const known = this.membership.get(change.id);
      if (known)
        throw refuse(
          'CONFLICT',
          known.state === 'retired'
            ? `${change.id} was a member and is retired: an id is never reused (its clock entry lives on in the history); choose another id`
            : `${change.id} is already a member (${known.state}, at ${known.address})`,
        );
      const taken = this.membership.current().find((m) => m.address === change.address);
      if (taken)
        throw refuse('CONFLICT', `${change.address} is already ${taken.id}'s address`, 'address');
      if (this.config.curve && !change.publicKey)
        throw refuse(
          'INVALID',
          'publicKey: is required: the cluster runs CURVE, so a member without a key could not connect',
          'publicKey',
        );
      await this.replica.originateChange(change);
      this.logger.log(`admitted ${change.id} at ${change.address}`);
      return this.membership.view();
    });
  }

  @MessagePattern(Requests.retire)
  retire(@Payload() body: unknown): Promise<MembershipView> {
    return this.serialized(async () => {
      const { id, force } = (body ?? {}) as { id?: unknown; force?: unknown };
      if (typeof id !== 'string') throw refuse('INVALID', 'id: must be a member id', 'id');
      this.assertCoordinating();
      const record = this.membership.get(id);
      if (!record || record.state === 'retired')
        throw refuse(
          'UNKNOWN',
          record
            ? `${id} is already retired`
            : `unknown member "${id}"; the members are ${this.membership
                .current()
                .map((m) => m.id)
                .join(', ')}`,
        );
      if (id === this.config.nodeId)
        throw refuse('CONFLICT', `${id} cannot coordinate its own retirement: ask another member`);
      const remaining = this.membership
        .current()
        .filter((m) => m.id !== id && m.state === 'active');
      if (remaining.length === 0)
        throw refuse('CONFLICT', `cannot retire ${id}: it is the last active member`);
      const lastSeq = await this.lastSeqOf(id, force === true);
      // The entry's clock must name lastSeq: then every node delivers all of id's messages
      // before it applies the retirement, and nothing of id's is lost or left waiting.
      try {
        await this.replica.whenDelivered(id, lastSeq, this.config.retireWaitMs);
      } catch {
        // It was told to stop originating: it takes messages again.
        void this.links.clients
          .get(id)
          ?.request(Requests.drain, { resume: true })
          .catch(() => undefined);
        throw refuse(
          'CONFLICT',
          `cannot retire ${id} yet: ${this.config.nodeId} has ${id}'s messages up to ${id}:${this.replica.clock().get(id)} of ${id}:${lastSeq} after ${this.config.retireWaitMs} ms (a cut link?); ${id} keeps working as a member, retry once they arrive`,
        );
      }
      // Its client goes once the entry is applied here; the `leave` below still needs it.
      const client = this.links.clients.get(id);
      const entry = await this.replica.originateChange({ op: 'retire', id, lastSeq });
      this.logger.log(`retired ${id} after its message ${id}:${lastSeq}`);
      // Tell it directly too (it may hear the entry live anyway): it stops and exits.
      void client
        ?.request(Requests.leave, { entry: this.replica.wire(this.storedOf(entry)) })
        .catch(() => undefined);
      return this.membership.view();
    });
  }

  /** A joiner asks for its grant: the membership, whom else to admit, where to catch up to. */
  @MessagePattern(Requests.join)
  join(@Payload() body: unknown): JoinGrant {
    const { id, address, nonce } = (body ?? {}) as Record<string, unknown>;
    if (typeof id !== 'string' || typeof address !== 'string' || typeof nonce !== 'string')
      throw refuse('INVALID', 'a join asks with {id, address, nonce}');
    const record = this.membership.get(id);
    if (!record)
      throw refuse(
        'UNKNOWN',
        `${id} is not admitted: an operator admits it first (POST /cluster/members)`,
      );
    if (record.state === 'active')
      throw refuse(
        'CONFLICT',
        `${id} is already a member: a node joins once (restart it on its data directory to bring it back)`,
      );
    if (record.state === 'retired') throw refuse('CONFLICT', `${id} is retired and cannot join`);
    if (record.address !== address)
      throw refuse(
        'CONFLICT',
        `${id} was admitted at ${record.address}, not ${address}`,
        'address',
      );
    const lease = this.leases.get(id);
    const now = performance.now();
    if (lease && lease.nonce !== nonce && now - lease.at < JOIN_LEASE_MS)
      throw refuse(
        'CONFLICT',
        `${id} is already joining: another process asked ${Math.round((now - lease.at) / 1000)} s ago`,
      );
    this.leases.set(id, { nonce, at: now });
    const clients: Record<string, string> = {};
    for (const [name, key] of Object.entries(this.config.curve?.publicKeys ?? {}))
      if (!this.membership.known.has(name)) clients[name] = key;
    return { ...this.membership.view(), clients, clock: this.replica.clockJson() };
  }

  /**
   * A coordinator retires this node: it stops originating and says its last seq once that is
   * durable; `{resume: true}` when the retirement could not go ahead: it originates again.
   */
  @MessagePattern(Requests.drain)
  async drain(@Payload() body: unknown): Promise<{ nodeId: string; lastSeq: number }> {
    if ((body as { resume?: unknown } | null)?.resume === true) this.replica.resume();
    else await this.replica.drain();
    return { nodeId: this.config.nodeId, lastSeq: this.replica.clock().get(this.config.nodeId) };
  }

  /** A coordinator says this node is retired, with the entry; it takes it like a fetched one. */
  @MessagePattern(Requests.leave)
  leave(@Payload() body: unknown): { nodeId: string } {
    const entry = (body as { entry?: unknown } | null)?.entry;
    try {
      const message = parseReplicaMessage(entry, this.membership.known);
      if (message.member?.op !== 'retire' || message.member.id !== this.config.nodeId)
        throw new InvalidReplicaMessageError(
          'entry',
          `is not the retirement of ${this.config.nodeId}`,
        );
      void this.replica.retireSelf(message);
    } catch (error) {
      if (!(error instanceof InvalidReplicaMessageError)) throw error;
      throw refuse('INVALID', error.message, error.field);
    }
    return { nodeId: this.config.nodeId };
  }

  private assertCoordinating(): void {
    const refusal = this.replica.notAccepting();
    if (refusal) throw refuse('CONFLICT', `${refusal.message}; ask another member`);
  }

  /**
   * The last seq `id` gave out: it says so itself once it stopped originating. If it cannot
   * be asked, only `force` retires it, with the most any member here has seen of it.
   */
  private async lastSeqOf(id: string, force: boolean): Promise<number> {
    const client = this.links.clients.get(id);
    try {
      const drained = await client!.request<{ lastSeq: number }>(Requests.drain, {});
      if (!Number.isSafeInteger(drained?.lastSeq)) throw new Error('no lastSeq in its answer');
      return drained.lastSeq;
    } catch (error) {
      const seen = Math.max(
        this.replica.clock().get(id),
        ...this.membership.peers().map((m) => this.repair.peerClock(m.id)?.get(id) ?? 0),
      );
      if (force) return seen;
      throw refuse(
        'CONFLICT',
        `${id} did not answer (${(error as { message?: string }).message ?? String(error)}): it may hold acknowledged messages nobody else has (the others have seen up to ${id}:${seen}); bring it back, or retire it with force=true to accept losing what only it had`,
      );
    }
  }

  private storedOf(view: { id: string }) {
    const [sender, seq] = view.id.split(':');
    return this.replica.stored(sender, Number(seq), Number(seq), 1)[0];
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

function parseChange(body: unknown) {
  try {
    return parseMemberChange(body);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const field = error.message.split(':')[0].replace(/^member\./, '');
    throw refuse('INVALID', error.message.replace(/^member\./, ''), field);
  }
}
