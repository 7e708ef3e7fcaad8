import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { NodeState, Requests } from '@app/contracts';
import { ConnectionAudit } from '@app/zmq-transport';
import { NodeDirectory } from '../nodes/node-directory';
import { Operator } from '../operator/operator.decorator';
import { NodesGateway } from '../realtime/nodes.gateway';
import { Metrics } from './metrics';

@ApiTags('operations')
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly metrics: Metrics,
    private readonly nodes: NodeDirectory,
    private readonly gateway: NodesGateway,
    private readonly audit: ConnectionAudit,
  ) {}

  @Get()
  @Operator('when-exposed')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiOperation({ summary: 'Prometheus metrics: HTTP, per-node counters, Socket.IO clients' })
  @ApiOkResponse({ schema: { type: 'string' } })
  async scrape(): Promise<string> {
    await Promise.all(
      this.nodes.ids.map(async (id) => {
        const state = await this.nodes.tryRequest<NodeState>(id, Requests.state);
        this.metrics.nodeUp.set({ node: id }, state ? 1 : 0);
        if (!state) return;
        this.metrics.nodeBuffered.set({ node: id }, state.buffered.length);
        for (const [counter, value] of Object.entries(state.counters))
          this.metrics.nodeCounter.set({ node: id, counter }, value);
      }),
    );
    this.metrics.socketClients.set(this.gateway.clients);
    this.metrics.zmqRejected.set(this.audit.rejectedTotal);
    return this.metrics.registry.metrics();
  }
}
