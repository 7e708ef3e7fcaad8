import { ArgumentsHost, Catch, RpcExceptionFilter } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { Observable, throwError } from 'rxjs';
import { InvalidClockSettingError } from '@app/contracts';
import { InvalidLinkSettingsError } from '../network/link-simulator';
import { InvalidReplicaMessageError } from './replica-message.parser';
import { NotAcceptingError, NotYetDeliveredError } from './replica';

/** Error shape every node reply uses: the gateway maps `code` to an HTTP status. */
export interface NodeError {
  readonly code:
    | 'INVALID'
    | 'NOT_YET'
    | 'LINK_DOWN'
    | 'INTERNAL'
    | 'UNAVAILABLE'
    /** membership: no such member */
    | 'UNKNOWN'
    /** membership: the change conflicts with the membership as it is */
    | 'CONFLICT'
    /** the node takes no messages while it joins or leaves */
    | 'JOINING'
    | 'LEAVING';
  readonly field?: string;
  readonly message: string;
}

/** Turns validation errors into `{ code: 'INVALID', field, message }`; never leaks internals. */
@Catch()
export class RpcErrorFilter implements RpcExceptionFilter<unknown> {
  catch(exception: unknown, _host: ArgumentsHost): Observable<never> {
    if (
      exception instanceof InvalidReplicaMessageError ||
      exception instanceof InvalidLinkSettingsError ||
      exception instanceof InvalidClockSettingError
    ) {
      const error: NodeError = {
        code: 'INVALID',
        field: exception.field,
        message: exception.message,
      };
      return throwError(() => error);
    }
    if (exception instanceof NotYetDeliveredError) {
      const error: NodeError = { code: 'NOT_YET', field: 'replyTo', message: exception.message };
      return throwError(() => error);
    }
    if (exception instanceof NotAcceptingError) {
      const error: NodeError = { code: exception.code, message: exception.message };
      return throwError(() => error);
    }
    if (exception instanceof RpcException) return throwError(() => exception.getError());
    const message = exception instanceof Error ? exception.message : String(exception);
    const error: NodeError = { code: 'INTERNAL', message };
    return throwError(() => error);
  }
}
