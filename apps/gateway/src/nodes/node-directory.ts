import {
  BadRequestException,
  ConflictException,
  HttpException,
  Inject,
  Injectable,
  NotFoundException,
  OnApplicationShutdown,
  ServiceUnavailableException,
} from '@nestjs/common';
import { curveClient } from '@app/contracts';
import { ConnectionAudit, ZmqClient, ZmqRequestError } from '@app/zmq-transport';
import { GATEWAY_CONFIG, GatewayConfig } from '../config/gateway.config';

interface NodeError {
  code?: string;
  field?: string;
  message?: string;
}

/**
 * The gateway's line to every node: one ZmqClient each. `request()` turns what can go
 * wrong into the HTTP error a client should see: 404 unknown node, 400 invalid input
 * (with the field), 503 naming the node that did not answer.
 */
@Injectable()
export class NodeDirectory implements OnApplicationShutdown {
  readonly ids: string[];
  private readonly clients = new Map<string, ZmqClient>();

  constructor(@Inject(GATEWAY_CONFIG) config: GatewayConfig, audit: ConnectionAudit) {
    this.ids = config.members.map((m) => m.id);
    for (const member of config.members) {
      this.clients.set(
        member.id,
        new ZmqClient({
          connect: member.rpc,
          timeoutMs: config.nodeTimeoutMs,
          connectTimeoutMs: config.connectTimeoutMs,
          // Every HTTP request is its own callback: gather a turn's requests into one send.
          gatherRequests: true,
          curve: config.curve && curveClient(config.curve, member.id),
          audit,
        }),
      );
    }
  }

  /** Throws 404 for an id that is not a member. */
  assertKnown(id: string): void {
    if (!this.clients.has(id)) {
      throw new NotFoundException(
        `unknown node "${id}"; the cluster's nodes are ${this.ids.join(', ')}`,
      );
    }
  }

  isConnected(id: string): boolean {
    return this.clients.get(id)?.isConnected ?? false;
  }

  async request<T>(id: string, pattern: string, data: unknown = {}): Promise<T> {
    this.assertKnown(id);
    try {
      return await this.clients.get(id)!.request<T>(pattern, data);
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
    await Promise.all([...this.clients.values()].map((client) => client.close()));
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
  if (nodeError && nodeError.code === 'LINK_DOWN')
    return new ServiceUnavailableException(nodeError.message);
  return new ServiceUnavailableException(
    `node ${id} failed: ${nodeError?.message ?? String(error)}`,
  );
}
