import { Inject, Logger } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  OnGatewayConnection,
  OnGatewayDisconnect,
  OnGatewayInit,
  SubscribeMessage,
  WebSocketGateway,
  WebSocketServer,
} from '@nestjs/websockets';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import type { Namespace, Server, Socket } from 'socket.io';
import {
  BufferedEvent,
  ChatMessage,
  ClockEvent,
  InboxView,
  DeliveredEvent,
  NodeState,
  Requests,
} from '@app/contracts';
import { GATEWAY_CONFIG, GatewayConfig } from '../config/gateway.config';
import { Metrics } from '../metrics/metrics';
import { NodeDirectory } from '../nodes/node-directory';
import { SendMessageDto } from '../nodes/nodes.dto';
import { NodeFeeds } from './node-feeds';
import { HttpException } from '@nestjs/common';

const NAMESPACE = /^\/nodes\/[^/]+$/;
/** The rate limit's window, as the REST throttler's (ms). */
const SEND_WINDOW_MS = 10_000;

interface SendWindow {
  startedAt: number;
  sends: number;
}
const nodeIdOf = (socket: Socket) => socket.nsp.name.slice('/nodes/'.length);
/**
 * The room of clients that asked for the first wave's event shape (`?events=delivered`):
 * one `delivered` per message and a `clock` per batch, instead of one `deliveries` per batch.
 */
const PER_MESSAGE = 'per-message';

/**
 * One Socket.IO namespace per node, `/nodes/<id>`: `hello` on connect, then `deliveries`
 * (one per batch the node announces: `{nodeId, messages, clock}`), `buffered` and `clock`
 * as they happen at that node; `send` with an acknowledgement. One emit per batch, not one
 * per message plus one for its clock: at a busy node's batches of tens, a classroom's
 * websockets get a frame per batch instead of one per message.
 */
@WebSocketGateway({ namespace: NAMESPACE, cors: { origin: false } })
export class NodesGateway implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect {
  @WebSocketServer() private parent!: Namespace;
  private readonly logger = new Logger(NodesGateway.name);

  constructor(
    private readonly nodes: NodeDirectory,
    private readonly metrics: Metrics,
    private readonly feeds: NodeFeeds,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  /**
   * Every client hears `membership` when a member is admitted, joins or is retired; the
   * clients of a retired node's namespace get `retired` and are disconnected.
   */
  private followMembership(): void {
    this.nodes.onChange((record) => {
      const server: Server | undefined = this.parent?.server;
      if (!server) return;
      const event = { members: this.nodes.members(), changed: record };
      for (const [name, namespace] of server._nsps)
        if (NAMESPACE.test(name)) namespace.emit('membership', event);
      if (record.state !== 'retired') return;
      const room = this.room(record.id);
      if (!room) return;
      room.emit('retired', {
        nodeId: record.id,
        message: `node ${record.id} was retired from the cluster (entry ${record.since})`,
      });
      room.disconnectSockets(true);
    });
  }

  afterInit(parent: Namespace): void {
    this.followMembership();
    parent.use((socket, next) => {
      try {
        this.nodes.assertKnown(nodeIdOf(socket));
        next();
      } catch (error) {
        next(new Error((error as Error).message));
      }
    });
  }

  get clients(): number {
    return this.parent?.server.engine.clientsCount ?? 0;
  }

  async handleConnection(socket: Socket): Promise<void> {
    const nodeId = nodeIdOf(socket);
    const { events } = socket.handshake.query;
    if (events === 'delivered') void socket.join(PER_MESSAGE);
    // The node's events must flow before its state is read: then nothing falls between.
    await this.feeds.listen(nodeId);
    const state = await this.nodes
      .tryRequest<NodeState>(nodeId, Requests.state)
      .catch(() => undefined);
    socket.emit(
      'hello',
      state
        ? {
            nodeId,
            up: true,
            clock: state.clock,
            lastIndex: state.lastIndex,
            buffered: state.buffered,
          }
        : { nodeId, up: false, clock: null, lastIndex: null, buffered: [] },
    );
  }

  handleDisconnect(socket: Socket): void {
    this.feeds.leave(nodeIdOf(socket));
  }

  @SubscribeMessage('send')
  async send(
    @ConnectedSocket() socket: Socket,
    @MessageBody() body: unknown,
  ): Promise<ChatMessage | { error: { statusCode: number; message: string } }> {
    const nodeId = nodeIdOf(socket);
    const limited = this.overLimit(socket);
    if (limited) return limited;
    const dto = plainToInstance(
      SendMessageDto,
      typeof body === 'object' && body !== null ? body : {},
    );
    const errors = await validate(dto, { whitelist: true, forbidNonWhitelisted: true });
    if (errors.length > 0) {
      const message = errors.flatMap((e) => Object.values(e.constraints ?? {})).join('; ');
      return { error: { statusCode: 400, message } };
    }
    try {
      return await this.nodes.request<ChatMessage>(nodeId, Requests.send, {
        text: dto.text,
        author: dto.author,
      });
    } catch (error) {
      if (error instanceof HttpException)
        return { error: { statusCode: error.getStatus(), message: error.message } };
      this.logger.error(`send at ${nodeId} failed: ${String(error)}`);
      return { error: { statusCode: 500, message: 'internal error' } };
    }
  }

  /**
   * Sends per connection, per 10 s, as REST allows per IP: the HTTP throttler never sees a
   * websocket event. Past the limit each send gets a 429 ack at once, so a flood costs the
   * gateway an ack, not a node request.
   */
  private overLimit(
    socket: Socket,
  ): { error: { statusCode: number; message: string } } | undefined {
    const limit = this.config.rateLimit;
    if (limit === 0) return undefined;
    const now = Date.now();
    const window = (socket.data as { sends?: SendWindow }).sends;
    if (!window || now - window.startedAt >= SEND_WINDOW_MS) {
      (socket.data as { sends?: SendWindow }).sends = { startedAt: now, sends: 1 };
      return undefined;
    }
    if (++window.sends <= limit) return undefined;
    this.metrics.socketSendsLimited.inc();
    const retryIn = Math.ceil((window.startedAt + SEND_WINDOW_MS - now) / 1000);
    return {
      error: {
        statusCode: 429,
        message: `rate limit: at most ${limit} sends per ${SEND_WINDOW_MS / 1000} s on one connection; retry in ${retryIn} s`,
      },
    };
  }

  delivered(event: DeliveredEvent): void {
    const room = this.room(event.nodeId);
    if (!room) return;
    const batch = { nodeId: event.nodeId, messages: event.messages, clock: event.clock };
    if (!room.adapter.rooms.get(PER_MESSAGE)?.size) {
      room.emit('deliveries', batch);
      return;
    }
    const old = room.to(PER_MESSAGE);
    for (const message of event.messages) old.emit('delivered', message);
    old.emit('clock', { nodeId: event.nodeId, clock: event.clock });
    room.except(PER_MESSAGE).emit('deliveries', batch);
  }

  buffered(event: BufferedEvent): void {
    this.room(event.nodeId)?.emit('buffered', event.held);
  }

  /** The node's inbox changed: every page watching the node sees the same tray. */
  inbox(event: InboxView): void {
    this.room(event.nodeId)?.emit('inbox', event);
  }

  clock(event: ClockEvent): void {
    this.room(event.nodeId)?.emit('clock', event);
  }

  /** The node's namespace, only once someone has connected to it. */
  private room(nodeId: string): Namespace | undefined {
    const server: Server | undefined = this.parent?.server;
    const name = `/nodes/${nodeId}`;
    return server && server._nsps.has(name) ? server.of(name) : undefined;
  }
}
