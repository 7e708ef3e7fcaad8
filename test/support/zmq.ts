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
