import {
  BadRequestException,
  ConflictException,
  HttpException,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  ServiceUnavailableException,
} from '@nestjs/common';
import { foundingRecord, MemberRecord, MembershipView, Requests } from '@app/contracts';
import { ConnectionAudit, ZmqClient, ZmqRequestError } from '@app/zmq-transport';
import { GATEWAY_CONFIG, GatewayConfig } from '../config/gateway.config';

interface NodeError {
  code?: string;
  field?: string;
  message?: string;
}

/** A change of the membership as the gateway sees it: the record, and what it was before. */
export type MembershipListener = (record: MemberRecord, previous: MemberRecord | undefined) => void;

/** How often the gateway asks the nodes for their membership (ms). */
export const MEMBERSHIP_POLL_MS = 1_000;

/**
 * The gateway's line to every node: one ZmqClient each, following the membership.
 * `request()` turns what can go wrong into the HTTP error a client should see: 404 unknown
 * node, 400 invalid input (with the field), 409 a conflicting membership change, 503 naming
 * the node that did not answer.
 *
 * The membership starts as CHAT_MEMBERS says and then follows the nodes: every second the
 * gateway asks the members for their view and takes the one with the most changes applied
 * (`version`), so a node admitted or retired through another gateway, or while this one was
 * down, appears or goes within about a second. A change this gateway made itself applies at
 * once, from the coordinator's answer.
 */
@Injectable()
export class NodeDirectory implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly clients = new Map<string, ZmqClient>();
  private readonly records = new Map<string, MemberRecord>();
  private readonly listeners: MembershipListener[] = [];
  private readonly logger = new Logger(NodeDirectory.name);
  private version = 0;
  private timer?: NodeJS.Timeout;
  private polling = false;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly audit: ConnectionAudit,
  ) {
    for (const member of config.members)
      this.put(foundingRecord(member, config.curve?.publicKeys[member.id]));
  }

  /** The members that are not retired, in the order they were first known. */
  get ids(): string[] {
    return [...this.records.values()].filter((r) => r.state !== 'retired').map((r) => r.id);
  }

  /** Every member the gateway knows of, retired ones included. */
  members(): MemberRecord[] {
    return [...this.records.values()];
  }

  get(id: string): MemberRecord | undefined {
    return this.records.get(id);
  }

  onChange(listener: MembershipListener): void {
    this.listeners.push(listener);
  }

  onApplicationBootstrap(): void {
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), MEMBERSHIP_POLL_MS);
    this.timer.unref();
  }

  /** Asks the members for their view and follows the most advanced one. */
  async refresh(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const views = await Promise.all(
        this.ids.map((id) =>
          this.tryRequest<MembershipView>(id, Requests.membership).catch(() => undefined),
        ),
      );
      for (const view of views) if (view) this.follow(view);
    } finally {
      this.polling = false;
    }
  }

  /** Takes a node's view of the membership if it has applied more changes than the last one. */
  follow(view: MembershipView): void {
    if (!view || !Array.isArray(view.members) || view.version <= this.version) return;
    this.version = view.version;
    for (const record of view.members) {
      const previous = this.records.get(record.id);
      if (previous && previous.state === record.state && previous.address === record.address)
        continue;
      this.put(record);
      this.logger.log(`membership: ${record.id} is ${record.state} (${record.address})`);
      for (const listener of this.listeners) listener(record, previous);
    }
  }

  /** Throws 404 for an id that is not a member. */
  assertKnown(id: string): void {
    const record = this.records.get(id);
    if (!record || record.state === 'retired') {
      throw new NotFoundException(
        `${record ? `node "${id}" was retired` : `unknown node "${id}"`}; the cluster's nodes are ${this.ids.join(', ')}`,
      );
    }
  }

  isConnected(id: string): boolean {
    return this.clients.get(id)?.isConnected ?? false;
  }

  async request<T>(
    id: string,
    pattern: string,
    data: unknown = {},
    timeoutMs?: number,
  ): Promise<T> {
    this.assertKnown(id);
    try {
      return await this.clients.get(id)!.request<T>(pattern, data, timeoutMs);
    } catch (error) {
      throw toHttpError(id, error);
    }
  }

  /** Like request(), but a node that cannot answer yields undefined instead of an error. */
  async tryRequest<T>(id: string, pattern: string, data: unknown = {}): Promise<T | undefined> {
    try {
      return await this.request<T>(id, pattern, data);
    } catch (error) {
      if (error instanceof ServiceUnavailableException) return undefined;
      throw error;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.clients.values()].map((client) => client.close()));
  }

  private put(record: MemberRecord): void {
    const previous = this.records.get(record.id);
    this.records.set(record.id, record);
    const client = this.clients.get(record.id);
    if (record.state === 'retired') {
      this.clients.delete(record.id);
      void client?.close();
      return;
    }
    if (client && previous?.address === record.address) return;
    void client?.close();
    const serverKey = record.publicKey ?? this.config.curve?.publicKeys[record.id];
    this.clients.set(
      record.id,
      new ZmqClient({
        connect: record.rpc,
        timeoutMs: this.config.nodeTimeoutMs,
        connectTimeoutMs: this.config.connectTimeoutMs,
        // Every HTTP request is its own callback: gather a turn's requests into one send.
        gatherRequests: true,
        curve: this.config.curve && { ...this.config.curve.self, serverKey },
        audit: this.audit,
      }),
    );
  }
}

export function toHttpError(id: string, error: unknown): HttpException {
  if (error instanceof ZmqRequestError) {
    const why =
      error.code === 'timeout'
        ? 'did not answer in time'
        : error.code === 'closed'
          ? 'connection closed'
          : 'is unreachable';
    return new ServiceUnavailableException(`node ${id} ${why} (${error.message})`);
  }
  const nodeError = error as NodeError;
  if (nodeError && nodeError.code === 'INVALID') {
    return new BadRequestException(nodeError.message ?? `invalid ${nodeError.field}`);
  }
  if (nodeError && nodeError.code === 'NOT_YET') return new ConflictException(nodeError.message);
  if (nodeError && nodeError.code === 'CONFLICT') return new ConflictException(nodeError.message);
  if (nodeError && nodeError.code === 'UNKNOWN') return new NotFoundException(nodeError.message);
  if (nodeError && (nodeError.code === 'JOINING' || nodeError.code === 'LEAVING'))
    return new ServiceUnavailableException(nodeError.message);
  if (nodeError && nodeError.code === 'LINK_DOWN')
    return new ServiceUnavailableException(nodeError.message);
  return new ServiceUnavailableException(
    `node ${id} failed: ${nodeError?.message ?? String(error)}`,
  );
}
