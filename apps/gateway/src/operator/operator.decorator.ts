import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { ErrorView } from '../nodes/nodes.dto';

export const OPERATOR_METADATA = 'causal-chat:operator';
/** The OpenAPI security scheme of operator endpoints. */
export const OPERATOR_SCHEME = 'operator';

/** `always`: whenever a token is set; `when-exposed`: only when the gateway is bound beyond loopback. */
export type OperatorScope = 'always' | 'when-exposed';

/**
 * Marks a route (or a controller) as an operator endpoint: it changes or inspects the
 * system rather than chatting, so it needs `Authorization: Bearer <GATEWAY_ADMIN_TOKEN>`.
 */
export const Operator = (scope: OperatorScope = 'always') =>
  applyDecorators(
    SetMetadata(OPERATOR_METADATA, scope),
    ApiBearerAuth(OPERATOR_SCHEME),
    ApiUnauthorizedResponse({
      type: ErrorView,
      description: 'No `Authorization: Bearer <token>` header (when GATEWAY_ADMIN_TOKEN is set).',
    }),
    ApiForbiddenResponse({
      type: ErrorView,
      description: 'The bearer token is not the operator token.',
    }),
  );
