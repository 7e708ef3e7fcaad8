import { fsync } from 'node:fs';
import { INestMicroservice, LoggerService, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { curveServer, REPLICA_TOPIC } from '@app/contracts';
import { ConnectionAudit, ZmqServer } from '@app/zmq-transport';
import type { NodeConfig } from './config/node.config';
import { prepareMembership } from './membership/join';
import { NodeHooks, NodeModule } from './node.module';
import { MessageLog, SyncFile } from './storage/message-log';

/** `fs.fsync`, except that call number `failAt` fails the way a dying disk does (EIO). */
function failingFsync(failAt: number): SyncFile {
  let calls = 0;
  return (fd, done) => {
    if (++calls !== failAt) return fsync(fd, done);
    const error = Object.assign(new Error('EIO: i/o error, fsync (injected)'), { code: 'EIO' });
    process.nextTick(done, error);
  };
}

/**
 * Starts one replica: its ROUTER for requests and one SUB per peer's publisher (PeerLinks
 * follows the membership). A joiner gets its grant first (see prepareMembership).
 */
export async function startNode(
  initial: NodeConfig,
  logger: LoggerService | LogLevel[] | false = ['log', 'warn', 'error'],
  hooks: Omit<NodeHooks, 'server'> = {},
): Promise<INestMicroservice> {
  const audit = new ConnectionAudit();
  const log = new MessageLog(
    initial.dataDir,
    initial.nodeId,
    initial.synchronous,
    initial.failFsyncAt > 0 ? failingFsync(initial.failFsyncAt) : fsync,
  );
  let config: NodeConfig;
  try {
    config = await prepareMembership(initial, log);
  } catch (error) {
    log.close();
    throw error;
  }
  const keys = config.curve;
  // With CURVE, each subscription pins its publisher's key: a replica event's origin is the
  // peer holding that key, whoever holds the port.
  const server = new ZmqServer({
    bind: config.bindRpc,
    topics: [REPLICA_TOPIC],
    curve: keys && curveServer(keys),
    audit,
  });
  const app = await NestFactory.createMicroservice(
    NodeModule.forRoot(config, log, audit, { ...hooks, server }),
    {
      strategy: server,
      logger,
      // Start-up errors (a corrupt data file, a busy port) reach main(), which says what to do.
      abortOnError: false,
    },
  );
  await app.listen();
  return app;
}
