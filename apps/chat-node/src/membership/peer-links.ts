import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { MemberRecord } from '@app/contracts';
import { ConnectionAudit, ZmqClient, ZmqServer } from '@app/zmq-transport';
import type { NodeConfig } from '../config/node.config';
import { CONNECTION_AUDIT, NODE_CONFIG, PUBLISHER, ZMQ_SERVER } from '../config/node.tokens';
import { Network } from '../network/network';
import { Membership } from './membership';

/**
 * This node's links to its peers, following the membership: for each member that is not
 * retired, a DEALER to its ROUTER (fetches, membership requests), a SUB to its PUB (its
 * messages and heartbeats), an inbound link simulator, and its key on the allow-lists of
 * this node's ROUTER and PUB. A retired member loses all four; its connections that were
 * admitted before stay until it closes them (it exits), but it can never handshake again.
 */
@Injectable()
export class PeerLinks implements OnApplicationBootstrap, OnApplicationShutdown {
  /** peer id -> its request client. */
  readonly clients = new Map<string, ZmqClient>();
  private readonly logger = new Logger(PeerLinks.name);
  private started = false;
  /** peer id -> the record its sockets were made for (an address can change: see Membership). */
  private readonly linked = new Map<string, MemberRecord>();

  constructor(
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
    private readonly membership: Membership,
    private readonly network: Network,
    @Inject(ZMQ_SERVER) private readonly server: ZmqServer,
    @Inject(PUBLISHER) private readonly publisher: ZmqClient,
    @Inject(CONNECTION_AUDIT) private readonly audit: ConnectionAudit,
  ) {
    for (const record of membership.all()) this.follow(record);
    membership.onChange((record) => this.follow(record));
  }

  /** Subscriptions wait for the transport's handlers (they are registered by now). */
  onApplicationBootstrap(): void {
    this.started = true;
    for (const record of this.membership.peers()) this.subscribe(record);
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.clients.values()].map((client) => client.close()));
  }

  private follow(record: MemberRecord): void {
    if (record.id === this.config.nodeId) return;
    if (record.state === 'retired') this.drop(record);
    else this.ensure(record);
  }

  private keyOf(record: MemberRecord): string | undefined {
    return record.publicKey ?? this.config.curve?.publicKeys[record.id];
  }

  private ensure(record: MemberRecord): void {
    const key = this.keyOf(record);
    if (this.config.curve) {
      if (!key) {
        this.logger.error(`member ${record.id} has no CURVE public key: it cannot be reached`);
        return;
      }
      this.server.setAllowed(record.id, key);
      this.publisher.setAllowed(record.id, key);
    }
    this.network.add(record.id);
    // Two concurrent admissions of one id settle on one of them everywhere; if the one that
    // won has another address than the one applied first, the sockets move to it.
    const before = this.linked.get(record.id);
    if (before && before.rpc !== record.rpc) {
      this.server.unsubscribeFrom(before.pub);
      void this.clients.get(record.id)?.close();
      this.clients.delete(record.id);
    }
    this.linked.set(record.id, record);
    if (!this.clients.has(record.id))
      this.clients.set(
        record.id,
        new ZmqClient({
          connect: record.rpc,
          timeoutMs: this.config.requestTimeoutMs,
          curve: this.config.curve && { ...this.config.curve.self, serverKey: key },
          audit: this.audit,
        }),
      );
    if (this.started) this.subscribe(record);
  }

  private subscribe(record: MemberRecord): void {
    if (this.server.isSubscribedTo(record.pub)) return;
    this.server.subscribeTo({ endpoint: record.pub, serverKey: this.keyOf(record) });
  }

  private drop(record: MemberRecord): void {
    if (this.config.curve) {
      this.server.setAllowed(record.id, undefined);
      this.publisher.setAllowed(record.id, undefined);
    }
    this.server.unsubscribeFrom(this.linked.get(record.id)?.pub ?? record.pub);
    this.linked.delete(record.id);
    this.network.remove(record.id);
    const client = this.clients.get(record.id);
    this.clients.delete(record.id);
    // After the requests in flight to it (a coordinator's `leave`) have had their chance.
    if (client) setTimeout(() => void client.close(), this.config.requestTimeoutMs).unref();
  }
}
