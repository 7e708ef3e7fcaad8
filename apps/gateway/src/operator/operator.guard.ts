import { createHash, timingSafeEqual } from 'node:crypto';
import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  Inject,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { GATEWAY_CONFIG, GatewayConfig } from '../config/gateway.config';
import { OPERATOR_METADATA, OperatorScope } from './operator.decorator';

const digest = (text: string) => createHash('sha256').update(text).digest();

/** Lets a request reach an {@link Operator} endpoint only with the operator's bearer token. */
@Injectable()
export class OperatorGuard implements CanActivate {
  private readonly token?: Buffer;

  constructor(
    private readonly reflector: Reflector,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {
    this.token = config.adminToken === undefined ? undefined : digest(config.adminToken);
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.token || context.getType() !== 'http') return true;
    const scope = this.reflector.getAllAndOverride<OperatorScope | undefined>(OPERATOR_METADATA, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!scope || (scope === 'when-exposed' && !this.config.exposed)) return true;
    const http = context.switchToHttp();
    const header = http.getRequest<FastifyRequest>().headers.authorization;
    const bearer = header && /^Bearer\s+(.+)$/i.exec(header)?.[1].trim();
    if (!bearer) {
      http.getResponse<FastifyReply>().header('WWW-Authenticate', 'Bearer realm="operator"');
      throw new UnauthorizedException(
        'this is an operator endpoint: send "Authorization: Bearer <GATEWAY_ADMIN_TOKEN>"',
      );
    }
    // Compared as digests of equal length, in constant time.
    if (!timingSafeEqual(digest(bearer), this.token))
      throw new ForbiddenException('the bearer token is not the operator token');
    return true;
  }
}
