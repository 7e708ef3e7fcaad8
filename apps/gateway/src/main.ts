import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigError } from '@app/contracts';
import { startGateway } from './bootstrap';
import { GatewayConfig, loadGatewayConfig } from './config/gateway.config';

async function main(): Promise<void> {
  let config: GatewayConfig;
  try {
    config = loadGatewayConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`gateway: configuration error: ${error.message}\n`);
    process.exit(2);
  }
  const logger = new Logger('gateway');
  if (config.curve) logger.log(`CURVE on: links to the nodes encrypted, as ${config.id}`);
  else logger.warn('CHAT_CURVE=off: links to the nodes are NOT encrypted');
  if (!config.adminToken)
    logger.warn(
      config.exposed
        ? `GATEWAY_ADMIN_TOKEN=none: operator endpoints are open to everyone who reaches ${config.host}`
        : 'no GATEWAY_ADMIN_TOKEN: operator endpoints are open (to this machine only: HOST is loopback)',
    );
  try {
    const app = await startGateway(config);
    app.enableShutdownHooks();
    logger.log(
      `ready: http://${config.host}:${config.port} (UI), /docs (OpenAPI), nodes ${config.members.map((m) => m.id).join(', ')}`,
    );
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/EADDRINUSE/.test(message))
      logger.error(`port ${config.port} is already in use: stop what uses it or set PORT`);
    else logger.error(`failed to start: ${message}`);
    process.exit(1);
  }
}

void main();
