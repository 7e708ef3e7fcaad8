import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorResult,
  HealthIndicatorService,
} from '@nestjs/terminus';
import { NodeState, Requests } from '@app/contracts';
import { NodeDirectory } from '../nodes/node-directory';

@ApiTags('operations')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    private readonly nodes: NodeDirectory,
  ) {}

  @Get()
  @HealthCheck()
  @ApiOperation({ summary: 'Reachability of every node (503 when any is down)' })
  check() {
    return this.health.check(this.nodes.ids.map((id) => () => this.node(id)));
  }

  private async node(id: string): Promise<HealthIndicatorResult> {
    const check = this.indicator.check(id);
    const state = await this.nodes.tryRequest<NodeState>(id, Requests.state);
    return state
      ? check.up({ lastIndex: state.lastIndex, buffered: state.buffered.length })
      : check.down({ message: `node ${id} is unreachable` });
  }
}
