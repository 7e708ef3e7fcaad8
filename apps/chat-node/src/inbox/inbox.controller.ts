import { Controller, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import {
  BREAK_ON,
  BreakOn,
  INBOX_ACTIONS,
  InboxAction,
  InboxActionResult,
  InboxView,
  Requests,
} from '@app/contracts';
import { InvalidReplicaMessageError } from '../replication/replica-message.parser';
import { RpcErrorFilter } from '../replication/rpc-error.filter';
import { Inbox } from './inbox';

/** The operator's hands on a node's inbox (through the gateway). */
@Controller()
@UseFilters(RpcErrorFilter)
export class InboxController {
  constructor(private readonly inbox: Inbox) {}

  @MessagePattern(Requests.inboxGet)
  get(): InboxView {
    return this.inbox.view();
  }

  @MessagePattern(Requests.inboxSet)
  set(@Payload() body: unknown): InboxView {
    const { paused, breakOn } = (body ?? {}) as { paused?: unknown; breakOn?: unknown };
    if (paused !== undefined && typeof paused !== 'boolean')
      throw new InvalidReplicaMessageError('paused', 'must be true or false');
    if (breakOn !== undefined && !(BREAK_ON as readonly unknown[]).includes(breakOn))
      throw new InvalidReplicaMessageError('breakOn', `must be one of ${BREAK_ON.join(', ')}`);
    return this.inbox.set({
      ...(paused !== undefined ? { paused } : {}),
      ...(breakOn !== undefined ? { breakOn: breakOn as BreakOn } : {}),
    });
  }

  @MessagePattern(Requests.inboxAct)
  act(@Payload() body: unknown): InboxActionResult {
    const { flightId, action } = (body ?? {}) as { flightId?: unknown; action?: unknown };
    if (typeof flightId !== 'string' || flightId.length === 0 || flightId.length > 32)
      throw new InvalidReplicaMessageError('flightId', 'must be a flight id such as "f3"');
    if (!(INBOX_ACTIONS as readonly unknown[]).includes(action))
      throw new InvalidReplicaMessageError('action', `must be one of ${INBOX_ACTIONS.join(', ')}`);
    return this.inbox.act(flightId, action as InboxAction);
  }
}
