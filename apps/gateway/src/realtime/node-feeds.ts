import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { NODE_TOPIC, Requests } from '@app/contracts';
import { ConnectionAudit, ZmqServer } from '@app/zmq-transport';
import { GATEWAY_CONFIG, GatewayConfig } from '../config/gateway.config';
import { NodeDirectory } from '../nodes/node-directory';

/** How long a node's events keep coming after its last Socket.IO client left (ms). */
export const FEED_IDLE_MS = 10_000;
/** How long a first client waits for proof that the node's events reach the gateway (ms). */
const FEED_READY_MS = 1_000;

/**
 * The gateway's subscription to the nodes' events (`node.*` on each node's PUB), following
 * who listens: a node's events are subscribed while its Socket.IO namespace has clients
 * (and for {@link FEED_IDLE_MS} after the last one left), and not otherwise, so a gateway
 * serving only REST receives, decrypts and decodes none of them.
 *
 * A new subscription reaches the node's PUB asynchronously. `listen()` resolves once a frame
 * of it has arrived (the gateway asks the node to announce its clock at once, so this takes
 * a round trip, not a heartbeat) — the client's `hello` is read after that, so every
 * delivery after `hello.lastIndex` reaches the client: none falls between the two.
 */
@Injectable()
export class NodeFeeds implements OnApplicationShutdown {
  /** The microservice transport the gateway runs (bootstrap connects it). */
  readonly server: ZmqServer;
  private readonly feeds = new Map<
    string,
    { endpoint: string; listeners: number; ready?: Promise<void>; idle?: NodeJS.Timeout }
  >();

  constructor(
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
    audit: ConnectionAudit,
    private readonly nodes: NodeDirectory,
  ) {
    this.server = new ZmqServer({
      subscribe: config.members.map((m) => ({
        endpoint: m.pub,
        serverKey: config.curve?.publicKeys[m.id],
      })),
      topics: [],
      curve: config.curve?.self,
      audit,
    });
    for (const member of config.members)
      this.feeds.set(member.id, { endpoint: member.pub, listeners: 0 });
    // A member that joins gets a (silent) subscription; a retired one loses its own.
    nodes.onChange((record) => {
      const feed = this.feeds.get(record.id);
      if (record.state === 'retired') {
        if (!feed) return;
        clearTimeout(feed.idle);
        this.server.unsubscribeFrom(feed.endpoint);
        this.feeds.delete(record.id);
        return;
      }
      if (feed?.endpoint === record.pub) return;
      if (feed) this.server.unsubscribeFrom(feed.endpoint);
      this.server.subscribeTo({
        endpoint: record.pub,
        serverKey: record.publicKey ?? config.curve?.publicKeys[record.id],
      });
      this.feeds.set(record.id, { endpoint: record.pub, listeners: feed?.listeners ?? 0 });
      if (feed && feed.listeners > 0) void this.listen(record.id).then(() => this.leave(record.id));
    });
  }

  /** One more client of node `id`: resolves once the node's events flow to the gateway. */
  listen(id: string): Promise<void> {
    const feed = this.feeds.get(id);
    if (!feed) return Promise.resolve();
    feed.listeners++;
    clearTimeout(feed.idle);
    feed.idle = undefined;
    feed.ready ??= this.subscribe(id, feed.endpoint);
    return feed.ready;
  }

  /** A client of node `id` left; the last one's leaving unsubscribes after a while. */
  leave(id: string): void {
    const feed = this.feeds.get(id);
    if (!feed || feed.listeners === 0) return;
    if (--feed.listeners > 0) return;
    feed.idle = setTimeout(() => {
      feed.idle = undefined;
      if (feed.listeners > 0 || this.feeds.get(id) !== feed) return;
      this.server.setTopics(feed.endpoint, []);
      feed.ready = undefined;
    }, FEED_IDLE_MS);
    feed.idle.unref();
  }

  onApplicationShutdown(): void {
    for (const feed of this.feeds.values()) clearTimeout(feed.idle);
  }

  private async subscribe(id: string, endpoint: string): Promise<void> {
    this.server.setTopics(endpoint, [NODE_TOPIC]);
    const arrived = this.server.nextFrame(endpoint, FEED_READY_MS);
    // The node publishes its clock on request: the first frame comes a round trip later.
    void this.nodes.tryRequest(id, Requests.state, { announce: true }).catch(() => undefined);
    await arrived; // false: the node is down or slow; its hello says so, and it resumes later
  }
}
