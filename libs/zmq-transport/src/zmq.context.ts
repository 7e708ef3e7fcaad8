import { BaseRpcContext } from '@nestjs/microservices';

/** Where an inbound packet came from: the ROUTER, or the SUB socket of one publisher endpoint. */
export type ZmqOrigin =
  { readonly kind: 'router' } | { readonly kind: 'subscription'; readonly endpoint: string };

type ZmqContextArgs = [pattern: string, origin: ZmqOrigin];

/** Handler context (`@Ctx() ctx: ZmqContext`). */
export class ZmqContext extends BaseRpcContext<ZmqContextArgs> {
  getPattern(): string {
    return this.args[0];
  }

  getOrigin(): ZmqOrigin {
    return this.args[1];
  }
}
