/**
 * The server half of `npm run bench:transport`, run as its own process:
 * `raw` is a bare zeromq.js ROUTER echo; `nest` is a Nest microservice on ZmqServer.
 * Prints its endpoint on stdout once ready.
 */
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { Router } from 'zeromq';
import { ZmqServer } from '@app/zmq-transport';

@Controller()
class EchoController {
  @MessagePattern('echo')
  echo(@Payload() data: unknown): unknown {
    return data;
  }
}

@Module({ controllers: [EchoController] })
class EchoModule {}

async function raw(): Promise<void> {
  const router = new Router({
    linger: 0,
    sendHighWaterMark: 100_000,
    receiveHighWaterMark: 100_000,
  });
  await router.bind('tcp://127.0.0.1:*');
  process.stdout.write(`${router.lastEndpoint}\n`);
  // Receive and send loops run independently, as any serious server does: one writer
  // (zeromq.js allows one send in flight), fed by a queue.
  const queue: [Buffer, string][] = [];
  let writing = false;
  const flush = async () => {
    writing = true;
    while (queue.length > 0) await router.send(queue.shift()!);
    writing = false;
  };
  for await (const [identity, payload] of router) {
    // The same work a JSON RPC server must do: decode the request, encode a reply.
    const request = JSON.parse(payload.toString()) as { id: string; data: unknown };
    queue.push([
      identity,
      JSON.stringify({ id: request.id, response: request.data, isDisposed: true }),
    ]);
    if (!writing) void flush();
  }
}

async function nest(): Promise<void> {
  const server = new ZmqServer({ bind: 'tcp://127.0.0.1:*' });
  const app = await NestFactory.createMicroservice(EchoModule, {
    strategy: server,
    logger: ['error'],
  });
  await app.listen();
  process.stdout.write(`${server.endpoint}\n`);
}

void (process.argv[2] === 'raw' ? raw() : nest());
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
