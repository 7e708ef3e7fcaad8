import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
} from '@nestjs/common';
import { lastValueFrom } from 'rxjs';
import { InvalidClockError, VectorClock } from '@app/causal';
import {
  FetchRange,
  FetchRequest,
  ClockJson,
  Heartbeat,
  Limits,
  PeerView,
  ReplicaEvents,
  Requests,
} from '@app/contracts';
import { ZmqClient } from '@app/zmq-transport';
import type { NodeConfig } from '../config/node.config';
import { NODE_CONFIG } from '../config/node.tokens';
import { Inbox } from '../inbox/inbox';
import { Membership } from '../membership/membership';
import { PeerLinks } from '../membership/peer-links';
import { Network } from '../network/network';
import { InvalidReplicaMessageError, parseReplicaMessage } from './replica-message.parser';
import { Replica } from './replica';

interface PeerRecord {
  clock: VectorClock;
  lastHeard: number;
}

/**
 * Makes delivery reliable above PUB/SUB: heartbeats carry each node's clock (anti-entropy,
 * which also reveals a lost last message), and every repair tick asks peers for the gaps
 * that have stayed open for a whole tick (so ordinary jitter is not mistaken for loss).
 * A gap is asked of its sender first, then of any peer whose clock shows it has it.
 *
 * A node that is far behind (back after days away) catches up page by page: a fetch that
 * comes back full is followed at once by the next page of that gap from the same peer, one
 * page in flight per origin, instead of a repair tick and the link's patience per page.
 */
@Injectable()
export class Repair implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(Repair.name);
  private readonly peers = new Map<string, PeerRecord>();
  private readonly memberSet: ReadonlySet<string>;
  private readonly clients: ReadonlyMap<string, ZmqClient>;
  /** node -> the first missing seq and when it was first seen missing */
  private readonly openGaps = new Map<
    string,
    { fromSeq: number; since: number; attempts: number }
  >();
  private readonly inFlight = new Set<string>();
  private timers: NodeJS.Timeout[] = [];

  constructor(
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
    links: PeerLinks,
    private readonly membership: Membership,
    private readonly replica: Replica,
    private readonly network: Network,
    private readonly inbox: Inbox,
  ) {
    this.clients = links.clients;
    this.memberSet = membership.known;
    // A retired member's clock no longer says what exists: nobody waits for it.
    membership.onChange((record) => {
      if (record.state === 'retired') {
        this.peers.delete(record.id);
        this.openGaps.delete(record.id);
      }
    });
  }

  onApplicationBootstrap(): void {
    this.timers.push(setInterval(() => this.heartbeat(), this.config.heartbeatMs));
    this.timers.push(setInterval(() => this.repairTick(), this.config.repairMs));
    this.heartbeat();
  }

  onModuleDestroy(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
  }

  /** A peer's heartbeat, already through the inbound link. */
  onHeartbeat(from: string, untrusted: unknown): void {
    if (this.membership.get(from)?.state === 'retired') return;
    let clock: VectorClock;
    try {
      clock = VectorClock.parse(knownEntries(untrusted, this.memberSet), this.memberSet);
    } catch (error) {
      if (error instanceof InvalidClockError) {
        this.replica.counters.rejected++;
        this.replica.logOnce('bad-heartbeat', `heartbeat from ${from} rejected: ${error.message}`);
        return;
      }
      throw error;
    }
    const known = this.peers.get(from);
    this.peers.set(from, { clock, lastHeard: performance.now() });
    // The first word from a peer that is far ahead (this node is back after a while): start
    // catching up now rather than at the next tick.
    if (!known && this.farBehind(clock)) this.repairTick();
  }

  /** More than a page behind `clock` for some node: absence, not a message late on a link. */
  private farBehind(clock: VectorClock): boolean {
    const local = this.replica.clock();
    return this.replica.members.some(
      (node) => clock.get(node) - local.get(node) > this.config.fetchPage,
    );
  }

  reachable(peer: string): boolean {
    const record = this.peers.get(peer);
    return (
      record !== undefined &&
      performance.now() - record.lastHeard < 3 * this.config.heartbeatMs + 100
    );
  }

  /** The last clock `peer` showed (its heartbeat), if any. */
  peerClock(peer: string): VectorClock | undefined {
    return this.peers.get(peer)?.clock;
  }

  peerViews(): PeerView[] {
    return this.membership.peers().map((m) => {
      const record = this.peers.get(m.id);
      return {
        id: m.id,
        reachable: this.reachable(m.id),
        lastHeardMsAgo: record ? performance.now() - record.lastHeard : null,
        clock: record ? record.clock.toRecord(this.replica.members) : null,
      };
    });
  }

  /** Serves a peer's fetch from this node's log (already through the inbound link). */
  serveFetch(request: FetchRequest) {
    const messages = [];
    let budget: number = Limits.fetchBatchMax;
    for (const range of request.ranges) {
      if (budget <= 0) break;
      const found = this.replica.stored(range.node, range.fromSeq, range.toSeq, budget);
      budget -= found.length;
      messages.push(...found.map((m) => this.replica.wire(m)));
    }
    return { from: this.config.nodeId, messages };
  }

  private heartbeat(): void {
    // Non-zero entries only, as messages: an id a peer has yet to learn is no reason to refuse.
    const beat: Heartbeat = {
      from: this.config.nodeId,
      clock: this.replica.clock().toJSON() as ClockJson,
    };
    this.replica.emit(ReplicaEvents.heartbeat, beat);
    this.replica.announceClock();
  }

  /** The highest clock any peer has shown: what exists somewhere in the cluster. */
  private horizon(): VectorClock {
    let horizon = VectorClock.zero;
    for (const record of this.peers.values()) horizon = horizon.merge(record.clock);
    return horizon;
  }

  private repairTick(): void {
    this.replica.maybeJoin();
    const now = performance.now();
    const byNode = new Map<string, FetchRange[]>();
    // What a paused inbox already holds is not missing, only waiting for its person.
    for (const gap of this.inbox.unparked(this.replica.missing(this.horizon()))) {
      const ranges = byNode.get(gap.node);
      if (ranges) ranges.push(gap);
      else byNode.set(gap.node, [gap]);
    }
    for (const [node, ranges] of byNode) {
      // Gaps come in seq order; the first one's start says whether this node is making progress.
      const fromSeq = ranges[0].fromSeq;
      const known = this.openGaps.get(node);
      const size = ranges.reduce((sum, range) => sum + range.toSeq - range.fromSeq + 1, 0);
      if (!known && size > this.config.fetchPage && !this.inFlight.has(node)) {
        // More than a page missing: absence, not jitter; no patience.
        this.openGaps.set(node, { fromSeq, since: now, attempts: 1 });
        const peer = this.pickPeer(node, fromSeq, 0);
        if (peer) void this.fetch(peer, node, capRanges(ranges, this.config.fetchPage));
        continue;
      }
      if (!known || known.fromSeq !== fromSeq) {
        // A new gap (or progress): give the network one tick to fill it by itself.
        this.openGaps.set(node, { fromSeq, since: now, attempts: 0 });
        continue;
      }
      if (now - known.since < this.patience(node) || this.inFlight.has(node)) continue;
      const peer = this.pickPeer(node, fromSeq, known.attempts++);
      if (peer) void this.fetch(peer, node, capRanges(ranges, this.config.fetchPage));
    }
    for (const node of [...this.openGaps.keys()]) if (!byNode.has(node)) this.openGaps.delete(node);
  }

  /**
   * How long a gap in `node`'s messages may stay open before it is treated as loss: one
   * repair tick, plus the time the inbound link from that node may legitimately take. A
   * message on a slow link is late, not lost; asking for it early would only duplicate it.
   */
  private patience(node: string): number {
    const link = this.network.link(node)?.current;
    const inFlight = link && !link.partitioned ? link.delayMs + link.jitterMs : 0;
    return this.config.repairMs + inFlight;
  }

  /** The sender first; then, round-robin by attempt, any reachable peer that has seen the gap. */
  private pickPeer(node: string, fromSeq: number, attempt: number): string | undefined {
    const candidates = [...this.clients.keys()].filter(
      (peer) => this.reachable(peer) && (this.peers.get(peer)?.clock.get(node) ?? 0) >= fromSeq,
    );
    if (candidates.length === 0) return undefined;
    if (attempt === 0 && candidates.includes(node)) return node;
    return candidates[attempt % candidates.length];
  }

  private async fetch(peer: string, node: string, ranges: FetchRange[]): Promise<void> {
    const client = this.clients.get(peer)!;
    this.inFlight.add(node);
    this.replica.counters.repairRequests++;
    const asked = ranges.reduce((sum, range) => sum + range.toSeq - range.fromSeq + 1, 0);
    let full = false;
    try {
      const request: FetchRequest = { from: this.config.nodeId, ranges };
      const reply = await lastValueFrom(
        client.send<{ from: string; messages: unknown[] }>(Requests.fetch, request),
      );
      const link = this.network.link(peer);
      if (!link || !(await link.admit())) return;
      const messages = Array.isArray(reply?.messages) ? reply.messages : [];
      full = messages.length >= asked;
      for (const untrusted of messages) {
        try {
          this.inbox.receive(peer, parseReplicaMessage(untrusted, this.memberSet), 'repair');
        } catch (error) {
          if (!(error instanceof InvalidReplicaMessageError)) throw error;
          this.replica.counters.rejected++;
          this.replica.logOnce(
            'bad-fetch-reply',
            `fetch reply from ${peer} rejected: ${error.message}`,
          );
        }
      }
    } catch (error) {
      this.logger.debug(
        `fetch of ${node} from ${peer} failed: ${error instanceof Error ? error.message : JSON.stringify(error)}`,
      );
    } finally {
      this.inFlight.delete(node);
    }
    if (full) this.fetchNextPage(node);
  }

  /** After a full page: the rest of `node`'s gap, at once (its sender first, as always). */
  private fetchNextPage(node: string): void {
    if (this.inFlight.has(node)) return;
    const ranges = this.inbox
      .unparked(this.replica.missing(this.horizon()))
      .filter((gap) => gap.node === node);
    if (ranges.length === 0) return;
    const peer = this.pickPeer(node, ranges[0].fromSeq, 0);
    if (!peer) return;
    // Progress: the gap's new start counts as seen now, so the tick does not ask a second peer.
    this.openGaps.set(node, { fromSeq: ranges[0].fromSeq, since: performance.now(), attempts: 1 });
    void this.fetch(peer, node, capRanges(ranges, this.config.fetchPage));
  }
}

/**
 * A heartbeat's entries of ids this node knows. A heartbeat only says what exists; an entry
 * of a member this node has not learned of yet (its admission is still on the way) is left
 * out rather than refusing the heartbeat, which would hide the very gap that holds the
 * admission.
 */
function knownEntries(untrusted: unknown, known: ReadonlySet<string>): unknown {
  if (typeof untrusted !== 'object' || untrusted === null || Array.isArray(untrusted))
    return untrusted;
  if (Object.getPrototypeOf(untrusted) !== Object.prototype) return untrusted;
  const keys = Object.keys(untrusted);
  if (keys.every((key) => known.has(key))) return untrusted;
  const kept: Record<string, unknown> = {};
  for (const key of keys)
    if (known.has(key)) kept[key] = (untrusted as Record<string, unknown>)[key];
  return kept;
}

/** At most `budget` seqs and 64 ranges, in order. */
function capRanges(ranges: readonly FetchRange[], budget: number): FetchRange[] {
  const out: FetchRange[] = [];
  for (const range of ranges) {
    if (budget <= 0 || out.length === 64) break;
    const toSeq = Math.min(range.toSeq, range.fromSeq + budget - 1);
    out.push({ node: range.node, fromSeq: range.fromSeq, toSeq });
    budget -= toSeq - range.fromSeq + 1;
  }
  return out;
}
