import { Body, Controller, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { InboxActionResult, InboxView, Requests } from '@app/contracts';
import { NodeDirectory } from '../nodes/node-directory';
import { ErrorView } from '../nodes/nodes.dto';
import { Operator } from '../operator/operator.decorator';
import { InboxActionDto, InboxSettingsDto } from './inbox.dto';

/**
 * A node's inbox: the stage between the link simulator and the causal buffer, which a
 * person can pause, and then deliver, drop or duplicate each message in flight by hand.
 */
@ApiTags('inbox')
@ApiNotFoundResponse({ type: ErrorView, description: 'Unknown node, or no such flight.' })
@ApiServiceUnavailableResponse({ type: ErrorView })
@Controller('nodes/:id/inbox')
export class InboxController {
  constructor(private readonly nodes: NodeDirectory) {}

  @Get()
  @ApiOperation({ summary: 'Paused or not, the breakpoint, and the copies parked in flight' })
  @ApiOkResponse({
    description: '{nodeId, paused, pausedBy, breakOn, inFlight[], capacity, overflow}',
  })
  get(@Param('id') id: string): Promise<InboxView> {
    return this.nodes.request<InboxView>(id, Requests.inboxGet);
  }

  @Put()
  @Operator()
  @ApiOperation({ summary: 'Pause or resume the inbox, set its breakpoint (operator)' })
  @ApiBadRequestResponse({ type: ErrorView })
  set(@Param('id') id: string, @Body() body: InboxSettingsDto): Promise<InboxView> {
    return this.nodes.request<InboxView>(id, Requests.inboxSet, { ...body });
  }

  @Post(':flightId')
  @HttpCode(200)
  @Operator()
  @ApiOperation({ summary: 'Deliver, drop or duplicate one parked copy (operator)' })
  @ApiBadRequestResponse({ type: ErrorView })
  @ApiConflictResponse({ type: ErrorView, description: 'That flight was already handled.' })
  act(
    @Param('id') id: string,
    @Param('flightId') flightId: string,
    @Body() body: InboxActionDto,
  ): Promise<InboxActionResult> {
    return this.nodes.request<InboxActionResult>(id, Requests.inboxAct, {
      flightId,
      action: body.action,
    });
  }
}
