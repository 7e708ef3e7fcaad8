import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LoggerService, LogLevel, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatewayConfig } from './config/gateway.config';
import { GatewayModule } from './gateway.module';
import { Metrics } from './metrics/metrics';
import { OPERATOR_SCHEME } from './operator/operator.decorator';
import { EdgeIoAdapter } from './realtime/edge-io.adapter';
import { NodeFeeds } from './realtime/node-feeds';
import { securityHeaders } from './security-headers';

/** The bundled UI: apps/gateway/public, found from source or from dist. */
export function publicDir(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, 'apps', 'gateway', 'public');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
  }
  throw new Error(`cannot find apps/gateway/public/index.html above ${__dirname}`);
}

/** Builds and starts the gateway: REST, Socket.IO, UI, OpenAPI, and the node-event subscription. */
export async function startGateway(
  config: GatewayConfig,
  logger: LoggerService | LogLevel[] | false = ['log', 'warn', 'error'],
): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({ bodyLimit: config.bodyLimitBytes });
  const app = await NestFactory.create<NestFastifyApplication>(
    GatewayModule.forRoot(config),
    adapter,
    { logger, abortOnError: false },
  );
  app.useWebSocketAdapter(new EdgeIoAdapter(app, config));
  app.useGlobalPipes(
    new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }),
  );
  const security = securityHeaders({
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'", 'ws:', 'wss:'],
      },
    },
  });
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRequest', (_request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      reply.headers(security);
      done();
    });
  if (config.corsOrigin) app.enableCors({ origin: config.corsOrigin.split(',') });

  const metrics = app.get(Metrics);
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      metrics.observeRequest(
        request.method,
        request.routeOptions?.url ?? 'unmatched',
        reply.statusCode,
        reply.elapsedTime / 1000,
      );
      done();
    });

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Causal chat gateway')
      .setDescription(
        'REST edge of a cluster of chat replicas that deliver messages in causal order. ' +
          'Real-time: Socket.IO namespace `/nodes/<id>` emits `hello`, `delivered`, `buffered`, `clock`; emit `send {text, author?}` with an ack.',
      )
      .setVersion('1.0')
      .addBearerAuth(
        { type: 'http', scheme: 'bearer', description: 'GATEWAY_ADMIN_TOKEN' },
        OPERATOR_SCHEME,
      )
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
  app.useStaticAssets({ root: publicDir(), prefix: '/', wildcard: false, index: ['index.html'] });

  // The nodes' events, subscribed per node while someone listens (see NodeFeeds).
  app.connectMicroservice({ strategy: app.get(NodeFeeds).server }, { inheritAppConfig: false });
  await app.startAllMicroservices();
  await app.listen(config.port, config.host);
  return app;
}
