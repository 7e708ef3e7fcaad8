import { DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { ConnectionAudit } from '@app/zmq-transport';
import { ThrottlerGuard, ThrottlerModule } from '@nestjs/throttler';
import { MembersController } from './members/members.controller';
import { UiConfigController } from './members/ui-config.controller';
import { ClocksController } from './clocks/clocks.controller';
import { ClusterController } from './cluster/cluster.controller';
import { GATEWAY_CONFIG, GatewayConfig } from './config/gateway.config';
import { HealthController } from './health/health.controller';
import { ClusterLogController } from './logs/cluster-log.controller';
import { ClusterRunController } from './logs/cluster-run.controller';
import { InboxController } from './inbox/inbox.controller';
import { Metrics } from './metrics/metrics';
import { MetricsController } from './metrics/metrics.controller';
import { NetworkController } from './network/network.controller';
import { NodeDirectory } from './nodes/node-directory';
import { NodesController } from './nodes/nodes.controller';
import { NodeEventsController } from './realtime/node-events.controller';
import { OperatorGuard } from './operator/operator.guard';
import { NodeFeeds } from './realtime/node-feeds';
import { NodesGateway } from './realtime/nodes.gateway';

/** The HTTP + Socket.IO edge. Holds no causal state: every answer comes from a node. */
@Module({})
export class GatewayModule {
  static forRoot(config: GatewayConfig): DynamicModule {
    const throttling = config.rateLimit > 0;
    return {
      module: GatewayModule,
      imports: [
        TerminusModule.forRoot({ logger: false }),
        ...(throttling
          ? [ThrottlerModule.forRoot([{ ttl: 10_000, limit: config.rateLimit }])]
          : []),
      ],
      controllers: [
        NodesController,
        InboxController,
        NetworkController,
        ClocksController,
        ClusterController,
        ClusterLogController,
        ClusterRunController,
        MembersController,
        UiConfigController,
        HealthController,
        MetricsController,
        NodeEventsController,
      ],
      providers: [
        { provide: GATEWAY_CONFIG, useValue: config },
        NodeDirectory,
        NodesGateway,
        NodeFeeds,
        Metrics,
        { provide: ConnectionAudit, useValue: new ConnectionAudit() },
        { provide: APP_GUARD, useClass: OperatorGuard },
        ...(throttling ? [{ provide: APP_GUARD, useClass: ThrottlerGuard }] : []),
      ],
    };
  }
}
