/**
 * The baseline of `npm run bench:gateway`: a bare NestJS 11 app on the same HTTP adapter
 * (Fastify) with the same route, DTO and ValidationPipe as the gateway, answering from
 * memory. Prints its port once listening.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Body, Controller, HttpCode, Module, Param, Post, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { SendMessageDto } from '../../apps/gateway/src/nodes/nodes.dto';

@Controller('nodes')
class BareController {
  private seq = 0;

  @Post(':id/messages')
  @HttpCode(201)
  send(@Param('id') id: string, @Body() body: SendMessageDto) {
    const seq = ++this.seq;
    return {
      id: `${id}:${seq}`,
      sender: id,
      seq,
      clock: { [id]: seq },
      text: body.text,
      sentAt: new Date().toISOString(),
      uuid: randomUUID(),
    };
  }
}

@Module({ controllers: [BareController] })
class BareModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create<NestFastifyApplication>(BareModule, new FastifyAdapter(), {
    logger: ['error'],
  });
  app.useGlobalPipes(
    new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }),
  );
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  process.stdout.write(`${address.port}\n`);
}

process.on('SIGTERM', () => process.exit(0));
void main();
