import { Body, Controller, Delete, Get, Param, Put } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { Requests, SYNC_MODES, SyncMode, SyncRound, TimeView } from '@app/contracts';
import { NodeDirectory } from '../nodes/node-directory';
import { ErrorView } from '../nodes/nodes.dto';
import { Operator } from '../operator/operator.decorator';
import { ClockSettingsDto, ClocksView, ClockView, SyncModeDto } from './clocks.dto';

export interface SyncView {
  mode: SyncMode;
  modes: readonly SyncMode[];
  /** Each reachable node's mode (they agree once the setting has spread). */
  nodes: Record<string, SyncMode>;
  /** The most recent round any node took part in. */
  lastRound: SyncRound | null;
  unreachable: string[];
}

function clockView(t: TimeView): ClockView {
  return {
    nodeId: t.nodeId,
    offsetMs: t.offsetMs,
    driftPpm: t.driftPpm,
    now: t.now,
    rawNow: t.rawNow,
    correctionMs: t.correctionMs,
    sync: t.sync,
  };
}

/** Each node's simulated physical clock, and the synchronization algorithm they run. */
@ApiTags('clocks')
@ApiBadRequestResponse({ type: ErrorView })
@ApiNotFoundResponse({ type: ErrorView })
@ApiServiceUnavailableResponse({ type: ErrorView })
@Controller('clocks')
export class ClocksController {
  constructor(private readonly nodes: NodeDirectory) {}

  @Get()
  @ApiOperation({ summary: "Every node's clock (offset, drift, now, rawNow) and true time" })
  @ApiOkResponse({ type: ClocksView })
  async all(): Promise<ClocksView> {
    const times = await this.times();
    return {
      now: new Date().toISOString(),
      clocks: times.reached.map(clockView),
      unreachable: times.unreachable,
    };
  }

  @Delete()
  @Operator()
  @ApiOperation({ summary: 'Every offset and drift back to 0 (operator)' })
  @ApiOkResponse({ type: ClocksView })
  async reset(): Promise<ClocksView> {
    await Promise.all(
      this.nodes.ids.map((id) =>
        this.nodes.tryRequest(id, Requests.clockSet, { offsetMs: 0, driftPpm: 0 }),
      ),
    );
    return this.all();
  }

  @Get('sync')
  @ApiOperation({ summary: 'The synchronization mode, the modes offered and the last round' })
  async sync(): Promise<SyncView> {
    const { reached, unreachable } = await this.times();
    const nodes = Object.fromEntries(reached.map((t) => [t.nodeId, t.sync]));
    const rounds = reached.map((t) => t.lastRound).filter((r): r is SyncRound => r !== null);
    rounds.sort((a, b) => Date.parse(b.at) - Date.parse(a.at));
    // The mode the most nodes run (they all do once a setting has spread).
    const counts = new Map<SyncMode, number>();
    for (const mode of Object.values(nodes)) counts.set(mode, (counts.get(mode) ?? 0) + 1);
    const mode = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'off';
    return { mode, modes: SYNC_MODES, nodes, lastRound: rounds[0] ?? null, unreachable };
  }

  @Put('sync')
  @Operator()
  @ApiOperation({
    summary: 'Switch clock synchronization: off, berkeley or cristian (operator)',
  })
  async setSync(@Body() body: SyncModeDto): Promise<SyncView> {
    // Stamped with the gateway's true time: nodes that missed it adopt the newest setting
    // from each other's replies.
    const setAt = Date.now();
    await Promise.all(
      this.nodes.ids.map((id) =>
        this.nodes.tryRequest(id, Requests.clockSync, { mode: body.mode, setAt }),
      ),
    );
    return this.sync();
  }

  @Put(':id')
  @Operator()
  @ApiOperation({ summary: "Set a node's clock offset and/or drift (operator)" })
  @ApiOkResponse({ type: ClockView })
  async set(@Param('id') id: string, @Body() body: ClockSettingsDto): Promise<ClockView> {
    return clockView(await this.nodes.request<TimeView>(id, Requests.clockSet, { ...body }));
  }

  private async times(): Promise<{ reached: TimeView[]; unreachable: string[] }> {
    const unreachable: string[] = [];
    const replies = await Promise.all(
      this.nodes.ids.map(async (id) => {
        const reply = await this.nodes.tryRequest<TimeView>(id, Requests.clockGet);
        if (!reply) unreachable.push(id);
        return reply;
      }),
    );
    return {
      reached: replies.filter((t): t is TimeView => t !== undefined),
      unreachable: unreachable.sort(),
    };
  }
}
