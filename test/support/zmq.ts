import { AddressInfo, connect, createServer, Server, Socket } from 'node:net';
import { NestFactory } from '@nestjs/core';
import { ClientProxy } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';
import { ZmqServer, ZmqServerOptions } from '@app/zmq-transport';
import { EchoModule, Seen } from '../fixtures/zmq-echo.module';

/** A ZmqServer running the echo fixture, bound to a free port unless `bind` says otherwise. */
export async function startEchoServer(options: Partial<ZmqServerOptions> = {}) {
  const server = new ZmqServer({ bind: 'tcp://127.0.0.1:*', ...options });
  const app = await NestFactory.createMicroservice(EchoModule, { strategy: server, logger: false });
  await app.listen();
  return { app, server, endpoint: server.endpoint!, seen: app.get(Seen) };
}

/** Closes what a test tracked, newest first, after each test of the enclosing describe. */
export function closeAfterEach() {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const close of cleanup.splice(0).reverse()) await close();
  });
  const track = <T extends { close(): unknown }>(thing: T): T => {
    cleanup.push(async () => thing.close());
    return thing;
  };
  return { cleanup, track };
}

export const call = <T>(client: Pick<ClientProxy, 'send'>, pattern: string, data: unknown) =>
  lastValueFrom(client.send<T>(pattern, data));

/** The error a promise rejects with, or undefined when it resolves. */
export const failure = async (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error,
  );

export const waitFor = async (condition: () => boolean, ms = 3000) => {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

/** A TCP relay to `target` that keeps every byte that crosses it, both ways. */
export async function recordingRelay(
  target: number,
): Promise<{ port: number; bytes: () => Buffer; close: () => Promise<void> }> {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const relay: Server = createServer((inbound) => {
    const outbound = connect(target, '127.0.0.1');
    for (const socket of [inbound, outbound]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
    }
    inbound.on('data', (chunk) => {
      chunks.push(chunk);
      outbound.write(chunk);
    });
    outbound.on('data', (chunk) => {
      chunks.push(chunk);
      inbound.write(chunk);
    });
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  return {
    port: (relay.address() as AddressInfo).port,
    bytes: () => Buffer.concat(chunks),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => relay.close(resolve));
    },
  };
}
