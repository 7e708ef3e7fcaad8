import { Body, Controller, Get, Header, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiCreatedResponse,
  ApiPayloadTooLargeResponse,
} from '@nestjs/swagger';
import { ChatMessage, HistoryPage, NodeState, Requests } from '@app/contracts';
import { NodeDirectory } from './node-directory';
import {
  ChatMessageView,
  ErrorView,
  HistoryPageView,
  HistoryQueryDto,
  LogQueryDto,
  NodeSummaryView,
  SendMessageDto,
} from './nodes.dto';
import { BadRequestException } from '@nestjs/common';

@ApiTags('nodes')
@ApiNotFoundResponse({ description: 'Unknown node id.', type: ErrorView })
@ApiServiceUnavailableResponse({
  description: 'The node did not answer; the message names it.',
  type: ErrorView,
})
@Controller('nodes')
export class NodesController {
  constructor(private readonly nodes: NodeDirectory) {}

  @Get()
  @ApiOperation({ summary: 'Members: up/down, clock, held-back count' })
  @ApiOkResponse({ type: [NodeSummaryView] })
  async list(): Promise<NodeSummaryView[]> {
    return Promise.all(
      this.nodes.ids.map(async (id) => {
        const state = await this.nodes.tryRequest<NodeState>(id, Requests.state);
        return state
          ? {
              id,
              up: true,
              clock: state.clock,
              buffered: state.buffered.length,
              lastIndex: state.lastIndex,
            }
          : { id, up: false };
      }),
    );
  }

  @Post(':id/messages')
  @HttpCode(201)
  @ApiOperation({ summary: 'Originate a message at node :id; 201 once it is durable there' })
  @ApiCreatedResponse({ type: ChatMessageView })
  @ApiBadRequestResponse({ type: ErrorView, description: 'Which field is wrong and why.' })
  @ApiPayloadTooLargeResponse({ type: ErrorView })
  send(@Param('id') id: string, @Body() body: SendMessageDto): Promise<ChatMessage> {
    return this.nodes.request<ChatMessage>(id, Requests.send, body);
  }

  @Get(':id/messages')
  @ApiOperation({ summary: "The node's delivered messages in its delivery order, paged by index" })
  @ApiOkResponse({ type: HistoryPageView })
  history(@Param('id') id: string, @Query() query: HistoryQueryDto): Promise<HistoryPage> {
    return this.nodes.request<HistoryPage>(id, Requests.history, {
      after: query.after ?? 0,
      limit: query.limit ?? 100,
    });
  }

  @Get(':id/state')
  @ApiOperation({ summary: 'Clock, held-back messages with waitingFor, peers, links, counters' })
  @ApiOkResponse({ description: 'The node state.' })
  state(@Param('id') id: string): Promise<NodeState> {
    return this.nodes.request<NodeState>(id, Requests.state);
  }

  @Get(':id/log')
  @Header('Content-Type', 'text/plain; charset=utf-8')
  @ApiOperation({
    summary:
      "The node's event log in ShiViz format (paste into ShiViz to see the space-time diagram)",
  })
  @ApiOkResponse({ description: 'ShiViz log text.', schema: { type: 'string' } })
  async log(@Param('id') id: string, @Query() query: LogQueryDto): Promise<string> {
    if (query.format !== undefined && query.format !== 'shiviz') {
      throw new BadRequestException(`format must be "shiviz", got "${query.format}"`);
    }
    const { text } = await this.nodes.request<{ text: string }>(id, Requests.log);
    return text;
  }
}
