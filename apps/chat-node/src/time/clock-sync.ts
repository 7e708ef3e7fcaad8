import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
} from '@nestjs/common';
import {
  ClockSettings,
  PeerTimeEstimate,
  Requests,
  SYNC_MODES,
  SyncMode,
  SyncRound,
  TimeAdjust,
  TimePing,
  TimePong,
  TimeView,
} from '@app/contracts';
import type { NodeConfig } from '../config/node.config';
import { NODE_CONFIG, PHYSICAL_CLOCK } from '../config/node.tokens';
import { Membership } from '../membership/membership';
import { PeerLinks } from '../membership/peer-links';
import { Network } from '../network/network';
import { Replica } from '../replication/replica';
import { PhysicalClock } from './physical-clock';

/** One NTP sample of a peer: its offset from this node's clock and the round trip it took. */
interface Sample {
  offsetMs: number;
  readonly rttMs: number;
  /** This node's clock when the reply arrived (ms). */
  readonly at: number;
  /** Monotonic time of the same moment: how old it is, whatever the clocks do. */
  readonly mono: number;
}

/** Samples kept per peer: NTP's clock filter picks the best of its last eight. */
const SAMPLES = 8;

/**
 * Estimates every peer's clock and, when switched on, synchronizes this node's clock.
 *
 * Each round (`CHAT_CLOCK_PING_MS`) the node sends every peer a timed request over its
 * ordinary link: t0 (sent, this clock), t1 and t2 (received and answered, the peer's
 * clock), t3 (reply back, this clock). The request and the reply pass through the link
 * simulators like any repair, so the estimate includes the simulated delay and jitter: an
 * asymmetric link biases it, within its bound. offset = ((t1 − t0) + (t2 − t3)) / 2, error
 * bound = round trip / 2, and of the recent samples the one with the shortest round trip
 * wins (NTP's clock filter).
 *
 * Synchronization moves only the correction added to the raw clock:
 * - `cristian`: every node moves its clock by its estimate of the reference's (the first
 *   active member that answers), so it reads what the reference reads.
 * - `berkeley`: the master (the same first member) averages every clock it can estimate,
 *   its own included, and tells each node how far to move to reach that average.
 * Either way the clocks agree within the estimates' error bounds, never exactly.
 */
@Injectable()
export class ClockSync implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ClockSync.name);
  private readonly samples = new Map<string, Sample[]>();
  /** The correction epoch each peer last reported: a new one makes its old samples stale. */
  private readonly peerEpochs = new Map<string, number>();
  /** Corrections and clock settings applied here (told in every reply). */
  private epoch = 0;
  private mode: SyncMode;
  /** When the mode was set (true time, ms): the newest setting spreads through the replies. */
  private setAt = 0;
  private lastRound: SyncRound | null = null;
  private timer?: NodeJS.Timeout;
  private running = false;

  constructor(
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
    @Inject(PHYSICAL_CLOCK) private readonly clock: PhysicalClock,
    private readonly links: PeerLinks,
    private readonly network: Network,
    private readonly membership: Membership,
    private readonly replica: Replica,
  ) {
    this.mode = config.clock.sync;
    membership.onChange((record) => {
      if (record.state === 'retired') {
        this.samples.delete(record.id);
        this.peerEpochs.delete(record.id);
      }
    });
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.round(), this.config.clock.pingMs);
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** Pings every peer, then takes one step of the synchronization algorithm. */
  async round(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await Promise.all(this.membership.peers().map((peer) => this.ping(peer.id)));
      this.step();
    } finally {
      this.running = false;
    }
  }

  /** Serves a peer's ping (already through the inbound link): t1 now, t2 as it leaves. */
  pong(request: TimePing, t1: number): TimePong {
    return {
      from: this.config.nodeId,
      t1,
      t2: this.clock.now(),
      epoch: this.epoch,
      sync: { mode: this.mode, setAt: this.setAt },
    };
  }

  /** Berkeley's master says how far to move (already through the inbound link). */
  adjust(request: TimeAdjust): void {
    if (this.mode !== 'berkeley' || request.from !== this.leader()) return;
    this.correct(request.deltaMs, request.from);
  }

  /** The operator's mode, spread to every node by the gateway (and by the replies). */
  setMode(mode: SyncMode, setAt: number): void {
    this.setAt = setAt;
    if (mode === this.mode) return;
    this.mode = mode;
    this.logger.log(`node ${this.config.nodeId}: clock synchronization ${mode}`);
    // Every algorithm starts from the raw clocks; off leaves them wrong as they are.
    if (this.clock.correctionMs !== 0) this.correct(-this.clock.correctionMs);
  }

  /** New offset and/or drift of the simulated physical clock: a step, as a real one makes. */
  setClock(settings: ClockSettings): TimeView {
    const before = this.clock.raw();
    this.clock.set(settings);
    this.moved(this.clock.raw() - before);
    return this.view();
  }

  view(): TimeView {
    const peers: Record<string, PeerTimeEstimate> = {};
    for (const peer of this.membership.peers()) {
      const estimate = this.estimate(peer.id);
      if (estimate) peers[peer.id] = estimate;
    }
    const now = this.clock.now();
    return {
      nodeId: this.config.nodeId,
      offsetMs: round3(this.clock.offsetMs()),
      driftPpm: this.clock.driftPpm,
      now: new Date(now).toISOString(),
      rawNow: new Date(now - this.clock.correctionMs).toISOString(),
      correctionMs: round3(this.clock.correctionMs),
      sync: this.mode,
      lastRound: this.lastRound,
      hlc: this.replica.hlcNow(),
      peers,
    };
  }

  /** The best recent sample of `peer` (shortest round trip), if any. */
  estimate(peer: string): PeerTimeEstimate | undefined {
    const samples = this.samples.get(peer);
    if (!samples || samples.length === 0) return undefined;
    let best = samples[0];
    for (const sample of samples) if (sample.rttMs < best.rttMs) best = sample;
    return {
      offsetMs: round3(best.offsetMs),
      errorMs: round3(best.rttMs / 2),
      rttMs: round3(best.rttMs),
      samples: samples.length,
      at: new Date(best.at).toISOString(),
    };
  }

  private async ping(peer: string): Promise<void> {
    const client = this.links.clients.get(peer);
    if (!client) return;
    const t0 = this.clock.now();
    const epochAtSend = this.epoch;
    let reply: TimePong;
    try {
      const request: TimePing = { from: this.config.nodeId, t0 };
      reply = await client.request<TimePong>(Requests.timePing, request);
    } catch {
      return; // down, partitioned or lost: no sample this round
    }
    const link = this.network.link(peer);
    if (!link || !(await link.admit())) return;
    const t3 = this.clock.now();
    if (!isPong(reply) || reply.from !== peer) {
      this.replica.counters.rejected++;
      this.replica.logOnce(`bad-pong-${peer}`, `time.ping reply from ${peer} rejected`);
      return;
    }
    // This node's own clock moved while the ping was out: the sample straddles the step.
    if (this.epoch !== epochAtSend) return;
    const { t1, t2 } = reply;
    let samples = this.samples.get(peer);
    if (!samples || this.peerEpochs.get(peer) !== reply.epoch) {
      samples = [];
      this.samples.set(peer, samples);
      this.peerEpochs.set(peer, reply.epoch);
    }
    samples.push({
      offsetMs: (t1 - t0 + (t2 - t3)) / 2,
      rttMs: Math.max(0, t3 - t0 - (t2 - t1)),
      at: t3,
      mono: performance.now(),
    });
    if (samples.length > SAMPLES) samples.shift();
    if (reply.sync.setAt > this.setAt) this.setMode(reply.sync.mode, reply.sync.setAt);
  }

  /** Who leads a round: the first active member that is this node or has a fresh estimate. */
  private leader(): string | undefined {
    return this.membership
      .current()
      .filter((m) => m.state === 'active')
      .map((m) => m.id)
      .find((id) => id === this.config.nodeId || this.fresh(id));
  }

  /** A peer whose best sample is recent enough to act on (three rounds). */
  private fresh(peer: string): boolean {
    const samples = this.samples.get(peer);
    const last = samples?.[samples.length - 1];
    return last !== undefined && performance.now() - last.mono < 3 * this.config.clock.pingMs;
  }

  private step(): void {
    if (this.mode === 'off') return;
    const leader = this.leader();
    if (!leader) return;
    const self = this.config.nodeId;
    if (this.mode === 'cristian') {
      if (leader === self) return;
      this.correct(this.estimate(leader)!.offsetMs, leader);
      return;
    }
    if (leader !== self) return; // Berkeley: the master tells the others
    const offsets = new Map<string, number>([[self, 0]]);
    for (const peer of this.membership.peers())
      if (this.fresh(peer.id)) offsets.set(peer.id, this.estimate(peer.id)!.offsetMs);
    if (offsets.size < 2) return;
    const average = [...offsets.values()].reduce((a, b) => a + b, 0) / offsets.size;
    for (const [peer, offset] of offsets) {
      if (peer === self) continue;
      const adjust: TimeAdjust = { from: self, deltaMs: average - offset };
      this.links.clients
        .get(peer)
        ?.request(Requests.timeAdjust, adjust)
        .catch(() => undefined); // lost: the next round makes up for it
    }
    this.correct(average, self);
  }

  /** Moves the corrected clock by `deltaMs`. */
  private correct(deltaMs: number, leader?: string): void {
    this.clock.correctionMs += deltaMs;
    this.moved(deltaMs);
    if (leader)
      this.lastRound = {
        mode: this.mode,
        leader,
        adjustedMs: round3(deltaMs),
        at: this.clock.iso(),
      };
  }

  /**
   * This node's clock moved by `deltaMs`: every peer now reads that much less relative to it
   * (the samples say so at once), and peers learn from the new epoch that their samples of
   * this node are stale.
   */
  private moved(deltaMs: number): void {
    this.epoch++;
    for (const samples of this.samples.values()) for (const s of samples) s.offsetMs -= deltaMs;
  }
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function isPong(value: unknown): value is TimePong {
  const v = value as TimePong | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    Number.isFinite(v.t1) &&
    Number.isFinite(v.t2) &&
    Number.isSafeInteger(v.epoch) &&
    typeof v.sync === 'object' &&
    v.sync !== null &&
    typeof v.sync.mode === 'string' &&
    (SYNC_MODES as readonly string[]).includes(v.sync.mode) &&
    Number.isFinite(v.sync.setAt)
  );
}
