import type { IncomingMessage } from 'node:http';
import { INestApplicationContext, Logger } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { Server, ServerOptions } from 'socket.io';
import type { GatewayConfig } from '../config/gateway.config';

/**
 * Socket.IO with the edge's rules: a browser page may connect only from the gateway's own
 * origin or one listed in GATEWAY_CORS_ORIGIN (a page elsewhere could otherwise chat as its
 * visitor), and a frame larger than the REST body limit closes its connection, as Fastify
 * answers such a body with 413.
 */
export class EdgeIoAdapter extends IoAdapter {
  private readonly logger = new Logger('Socket.IO');
  private readonly allowed: ReadonlySet<string>;
  private readonly refusedOrigins = new Set<string>();

  constructor(
    app: INestApplicationContext,
    private readonly config: GatewayConfig,
  ) {
    super(app);
    this.allowed = new Set(
      config.corsOrigin ? config.corsOrigin.split(',').map((o) => o.trim()) : [],
    );
  }

  override createIOServer(port: number, options?: ServerOptions): Server {
    return super.createIOServer(port, {
      ...options,
      maxHttpBufferSize: this.config.bodyLimitBytes,
      cors: { origin: this.allowed.size > 0 ? [...this.allowed] : false },
      allowRequest: (request, callback) => {
        const refusal = this.refusal(request);
        callback(refusal ?? null, refusal === undefined);
      },
    } as ServerOptions);
  }

  /** Why a handshake is refused, or undefined. No Origin header: not a browser, nothing to forge. */
  private refusal(request: IncomingMessage): string | undefined {
    const origin = request.headers.origin;
    if (!origin || this.allowed.has(origin)) return undefined;
    const host = request.headers.host;
    if (host && (origin === `http://${host}` || origin === `https://${host}`)) return undefined;
    if (!this.refusedOrigins.has(origin) && this.refusedOrigins.size < 100) {
      this.refusedOrigins.add(origin);
      this.logger.warn(
        `refused a Socket.IO connection from origin ${origin} (not in GATEWAY_CORS_ORIGIN)`,
      );
    }
    return `origin ${origin} is not allowed`;
  }
}
