import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigError } from '@app/contracts';
import { startNode } from './bootstrap';
import { MembershipError } from './membership/join';
import { loadNodeConfig, NodeConfig } from './config/node.config';
import { StorageError } from './storage/message-log';

async function main(): Promise<void> {
  let config: NodeConfig;
  try {
    config = loadNodeConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`chat-node: configuration error: ${error.message}\n`);
    process.exit(2);
  }
  const logger = new Logger(`chat-node ${config.nodeId}`);
  if (config.curve)
    logger.log(
      `CURVE on: links encrypted; admitting ${Object.keys(config.curve.publicKeys)
        .filter((name) => name !== config.nodeId)
        .join(', ')}`,
    );
  else
    logger.warn(
      'CHAT_CURVE=off: links are NOT encrypted and anyone who reaches these ports can read and inject messages',
    );
  try {
    // A failed write or fsync leaves memory and disk in disagreement: stop, without a
    // graceful close (which would write), so a restart reads what the disk holds. The node
    // already refuses everything; the pause lets the refusals reach their clients.
    let stopping = false;
    const app = await startNode(config, undefined, {
      onStorageFailure: (error) => {
        logger.error(`storage failed (${error.message}): exiting; restart this node`);
        setTimeout(() => process.exit(3), 200);
      },
      // Retired: close cleanly (the last batch goes out), then exit with 10, which the
      // launcher reads as "do not start again".
      onRetired: () => {
        if (stopping) return;
        stopping = true;
        logger.log(`retired from the cluster: closing; data stays in ${config.dataDir}`);
        setTimeout(() => {
          const forced = setTimeout(() => process.exit(10), 5000);
          forced.unref();
          void app.close().finally(() => process.exit(10));
        }, 300);
      },
    });
    app.enableShutdownHooks();
    logger.log(
      `ready: requests on ${config.bindRpc}, publishing on ${config.bindPub}, data in ${config.dataDir}${config.join ? ` (joining through ${config.join.address})` : ''}`,
    );
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof MembershipError) {
      logger.error(message);
      process.exit(error.exitCode);
    }
    if (error instanceof StorageError) logger.error(message);
    else if (/Address already in use/i.test(message)) {
      logger.error(
        `cannot bind ${config.bindRpc} / ${config.bindPub}: address already in use (is another node running?)`,
      );
    } else logger.error(`failed to start: ${message}`);
    process.exit(1);
  }
}

void main();
