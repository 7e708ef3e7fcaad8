import { DynamicModule, Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { CausalModule } from '@app/causal';
import { curveClient, curveServer } from '@app/contracts';
import { ConnectionAudit, ZmqClient } from '@app/zmq-transport';
import type { NodeConfig } from './config/node.config';
import {
  CONNECTION_AUDIT,
  NODE_CONFIG,
  PEER_CLIENTS,
  PUBLISHER,
  STORAGE_FAILED,
} from './config/node.tokens';
import { Network } from './network/network';
import { Repair } from './replication/repair';
import { Replica } from './replication/replica';
import { ReplicaController } from './replication/replica.controller';
import { MessageLog } from './storage/message-log';

/** Closes this node's outbound sockets last, after the final batch went out. */
class OutboundSockets implements OnApplicationShutdown {
  constructor(
    @Inject(PUBLISHER) private readonly publisher: ZmqClient,
    @Inject(PEER_CLIENTS) private readonly peers: Map<string, ZmqClient>,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([
      this.publisher.close(),
      ...[...this.peers.values()].map((client) => client.close()),
    ]);
  }
}

/** The node's configuration and durable log, visible to CausalModule's factory. */
@Global()
@Module({})
class NodeCoreModule {
  static forRoot(config: NodeConfig, log: MessageLog): DynamicModule {
    return {
      module: NodeCoreModule,
      providers: [
        { provide: NODE_CONFIG, useValue: config },
        { provide: MessageLog, useValue: log },
      ],
      exports: [NODE_CONFIG, MessageLog],
    };
  }
}

/** One chat replica. */
@Module({})
export class NodeModule {
  /**
   * `log` is opened by the caller first, so a bad data file is reported before Nest starts.
   * `audit` records the connections of all the node's sockets (its server's too).
   * `onStorageFailure` is told once if a write or fsync fails (the process should exit).
   */
  static forRoot(
    config: NodeConfig,
    log: MessageLog,
    audit: ConnectionAudit,
    onStorageFailure?: (error: Error) => void,
  ): DynamicModule {
    return {
      module: NodeModule,
      imports: [
        NodeCoreModule.forRoot(config, log),
        CausalModule.forRootAsync({
          inject: [NODE_CONFIG, MessageLog],
          useFactory: (c: NodeConfig, log: MessageLog) => ({
            nodeId: c.nodeId,
            members: c.members.map((m) => m.id),
            capacity: c.bufferCapacity,
            maxAhead: c.maxAhead,
            initial: log.restored.clock,
          }),
        }),
      ],
      controllers: [ReplicaController],
      providers: [
        { provide: CONNECTION_AUDIT, useValue: audit },
        {
          provide: PUBLISHER,
          inject: [NODE_CONFIG],
          useFactory: async (c: NodeConfig) => {
            const publisher = new ZmqClient({
              publish: c.bindPub,
              curve: c.curve && curveServer(c.curve),
              audit,
            });
            await publisher.connect();
            return publisher;
          },
        },
        {
          provide: PEER_CLIENTS,
          inject: [NODE_CONFIG],
          useFactory: (c: NodeConfig) =>
            new Map(
              c.members
                .filter((m) => m.id !== c.nodeId)
                .map((m) => [
                  m.id,
                  new ZmqClient({
                    connect: m.rpc,
                    timeoutMs: c.requestTimeoutMs,
                    curve: c.curve && curveClient(c.curve, m.id),
                    audit,
                  }),
                ]),
            ),
        },
        ...(onStorageFailure ? [{ provide: STORAGE_FAILED, useValue: onStorageFailure }] : []),
        OutboundSockets,
        Network,
        Replica,
        Repair,
      ],
    };
  }
}
