import { DynamicModule, Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { CausalModule } from '@app/causal';
import { curveServer } from '@app/contracts';
import { ConnectionAudit, ZmqClient, ZmqServer } from '@app/zmq-transport';
import type { NodeConfig } from './config/node.config';
import {
  CONNECTION_AUDIT,
  NODE_CONFIG,
  PHYSICAL_CLOCK,
  PUBLISHER,
  RETIRED,
  STORAGE_FAILED,
  ZMQ_SERVER,
} from './config/node.tokens';
import { Inbox } from './inbox/inbox';
import { InboxController } from './inbox/inbox.controller';
import { Membership } from './membership/membership';
import { MembershipController } from './membership/membership.controller';
import { PeerLinks } from './membership/peer-links';
import { Network } from './network/network';
import { Repair } from './replication/repair';
import { Replica } from './replication/replica';
import { ReplicaController } from './replication/replica.controller';
import { MessageLog } from './storage/message-log';
import { ClockSync } from './time/clock-sync';
import { PhysicalClock } from './time/physical-clock';
import { TimeController } from './time/time.controller';

/** Closes this node's publisher last, after the final batch went out. */
class OutboundSockets implements OnApplicationShutdown {
  constructor(@Inject(PUBLISHER) private readonly publisher: ZmqClient) {}

  async onApplicationShutdown(): Promise<void> {
    await this.publisher.close();
  }
}

/** The node's configuration, durable log and membership, visible to CausalModule's factory. */
@Global()
@Module({})
class NodeCoreModule {
  static forRoot(config: NodeConfig, log: MessageLog): DynamicModule {
    return {
      module: NodeCoreModule,
      providers: [
        { provide: NODE_CONFIG, useValue: config },
        { provide: MessageLog, useValue: log },
        {
          provide: PHYSICAL_CLOCK,
          useValue: new PhysicalClock(Date.now, config.clock.offsetMs, config.clock.driftPpm),
        },
        Membership,
      ],
      exports: [NODE_CONFIG, MessageLog, PHYSICAL_CLOCK, Membership],
    };
  }
}

/** What the process around a node is told, and the transport it runs on. */
export interface NodeHooks {
  /** The microservice transport (PeerLinks subscribes to peers on it). */
  readonly server: ZmqServer;
  /** Told once if a write or fsync fails (the process should exit). */
  readonly onStorageFailure?: (error: Error) => void;
  /** Told once this node has delivered and announced its own retirement (it should exit). */
  readonly onRetired?: () => void;
}

/** One chat replica. */
@Module({})
export class NodeModule {
  /**
   * `log` is opened by the caller first, so a bad data file is reported before Nest starts.
   * `audit` records the connections of all the node's sockets (its server's too).
   */
  static forRoot(
    config: NodeConfig,
    log: MessageLog,
    audit: ConnectionAudit,
    hooks: NodeHooks,
  ): DynamicModule {
    return {
      module: NodeModule,
      imports: [
        NodeCoreModule.forRoot(config, log),
        CausalModule.forRootAsync({
          inject: [NODE_CONFIG, MessageLog, Membership],
          useFactory: (c: NodeConfig, log: MessageLog, membership: Membership) => ({
            nodeId: c.nodeId,
            members: membership.ids,
            capacity: c.bufferCapacity,
            maxAhead: c.maxAhead,
            initial: log.restored.clock,
          }),
        }),
      ],
      controllers: [ReplicaController, MembershipController, TimeController, InboxController],
      providers: [
        { provide: CONNECTION_AUDIT, useValue: audit },
        { provide: ZMQ_SERVER, useValue: hooks.server },
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
        ...(hooks.onStorageFailure
          ? [{ provide: STORAGE_FAILED, useValue: hooks.onStorageFailure }]
          : []),
        ...(hooks.onRetired ? [{ provide: RETIRED, useValue: hooks.onRetired }] : []),
        OutboundSockets,
        Network,
        PeerLinks,
        Replica,
        Inbox,
        Repair,
        ClockSync,
      ],
    };
  }
}
