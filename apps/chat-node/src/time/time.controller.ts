import { Controller, Inject, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import {
  InvalidClockSettingError,
  parseClockSettings,
  parseSyncMode,
  Requests,
  SYNC_MODES,
  SyncMode,
  TimeAdjust,
  TimePing,
  TimePong,
  TimeView,
} from '@app/contracts';
import type { NodeConfig } from '../config/node.config';
import { NODE_CONFIG, PHYSICAL_CLOCK } from '../config/node.tokens';
import { Membership } from '../membership/membership';
import { Network } from '../network/network';
import { Replica } from '../replication/replica';
import { RpcErrorFilter } from '../replication/rpc-error.filter';
import { ClockSync } from './clock-sync';
import { PhysicalClock } from './physical-clock';

/** The node's clocks: the operator's settings (via the gateway) and the peers' timed pings. */
@Controller()
@UseFilters(RpcErrorFilter)
export class TimeController {
  constructor(
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
    @Inject(PHYSICAL_CLOCK) private readonly clock: PhysicalClock,
    private readonly sync: ClockSync,
    private readonly network: Network,
    private readonly membership: Membership,
    private readonly replica: Replica,
  ) {}

  @MessagePattern(Requests.clockGet)
  get(): TimeView {
    return this.sync.view();
  }

  @MessagePattern(Requests.clockSet)
  set(@Payload() body: unknown): TimeView {
    const settings = parseClockSettings(body);
    const view = this.sync.setClock(settings);
    this.replica.note('clock', JSON.stringify(settings));
    return view;
  }

  @MessagePattern(Requests.clockSync)
  setSync(@Payload() body: unknown): { nodeId: string; mode: SyncMode; modes: readonly string[] } {
    const { mode, setAt } = (body ?? {}) as { mode?: unknown; setAt?: unknown };
    const parsed = parseSyncMode(mode);
    if (typeof setAt !== 'number' || !Number.isFinite(setAt) || setAt < 0)
      throw new InvalidClockSettingError('setAt', 'must be a time in ms');
    this.sync.setMode(parsed, setAt);
    this.replica.note('clock', JSON.stringify({ sync: parsed }));
    return { nodeId: this.config.nodeId, mode: parsed, modes: SYNC_MODES };
  }

  @MessagePattern(Requests.timePing)
  async ping(@Payload() body: unknown): Promise<TimePong> {
    const { from, t0 } = (body ?? {}) as Partial<TimePing>;
    await this.throughLink(from);
    if (typeof t0 !== 'number' || !Number.isFinite(t0))
      throw new InvalidClockSettingError('t0', 'must be a time in ms');
    return this.sync.pong({ from: from!, t0 }, this.clock.now());
  }

  @MessagePattern(Requests.timeAdjust)
  async adjust(@Payload() body: unknown): Promise<{ nodeId: string }> {
    const { from, deltaMs } = (body ?? {}) as Partial<TimeAdjust>;
    await this.throughLink(from);
    if (typeof deltaMs !== 'number' || !Number.isFinite(deltaMs) || Math.abs(deltaMs) > 3e13)
      throw new InvalidClockSettingError('deltaMs', 'must be a finite number of ms');
    this.sync.adjust({ from: from!, deltaMs });
    return { nodeId: this.config.nodeId };
  }

  /** A peer's timed request takes the inbound link like any other (delay, loss, partition). */
  private async throughLink(from: unknown): Promise<void> {
    if (typeof from !== 'string' || !this.membership.known.has(from) || from === this.config.nodeId)
      throw new InvalidClockSettingError('from', 'must be a peer id');
    const link = this.network.link(from);
    if (!link || !(await link.admit()))
      throw new RpcException({
        code: 'LINK_DOWN',
        message: `link ${from}->${this.config.nodeId} lost the request`,
      });
  }
}
