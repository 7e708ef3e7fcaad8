import { Readable } from 'node:stream';
import {
  BadRequestException,
  Body,
  Controller,
  Get,
  Header,
  HttpCode,
  Param,
  Post,
  Query,
  Res,
  StreamableFile,
} from '@nestjs/common';
import type { FastifyReply } from 'fastify';
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
import { ChatMessage, HistoryPage, NodeState, Requests, SHIVIZ_HEADER } from '@app/contracts';
import { logPages } from '../logs/log-pages';
import { NodeDirectory } from './node-directory';
import {
  ChatMessageView,
  ErrorView,
  HistoryPageView,
  HistoryQueryDto,
  LOG_LIMIT_DEFAULT,
  LOG_LIMIT_MAX,
  LogQueryDto,
  NodeSummaryView,
  SendMessageDto,
} from './nodes.dto';

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
  @ApiOperation({
    summary: 'Members (admitted and active; retired ones leave): up/down, clock, held-back count',
  })
  @ApiOkResponse({ type: [NodeSummaryView] })
  async list(): Promise<NodeSummaryView[]> {
    return Promise.all(
      this.nodes.ids.map(async (id) => {
        const state = await this.nodes.tryRequest<NodeState>(id, Requests.state);
        const member = this.nodes.get(id)!.state;
        return state
          ? {
              id,
              member,
              up: true,
              clock: state.clock,
              buffered: state.buffered.length,
              lastIndex: state.lastIndex,
            }
          : { id, member, up: false };
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
  @ApiOkResponse({
    description: `ShiViz log text: up to \`limit\` events (default ${LOG_LIMIT_DEFAULT}) after \`after\`; \`X-Next-After\` is the cursor of the rest when there is more. \`limit=all\` streams the whole log, page by page, in constant memory.`,
    schema: { type: 'string' },
  })
  async log(
    @Param('id') id: string,
    @Query() query: LogQueryDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string | StreamableFile> {
    if (query.format !== undefined && query.format !== 'shiviz') {
      throw new BadRequestException(`format must be "shiviz", got "${query.format}"`);
    }
    const limit = query.limit === 'all' ? Infinity : Number(query.limit ?? LOG_LIMIT_DEFAULT);
    if (Number.isFinite(limit) && limit > LOG_LIMIT_MAX)
      throw new BadRequestException(
        `limit must be "all" or an integer from 1 to ${LOG_LIMIT_MAX}, got ${query.limit}`,
      );
    // The first page is read before answering, so a node that cannot answer is a 503.
    const pages = logPages(this.nodes, id, query.after ?? 0, limit);
    const first = await pages.next();
    if (limit === Infinity) {
      const rest = async function* () {
        yield SHIVIZ_HEADER;
        if (!first.done) yield first.value.text;
        for await (const page of pages) yield page.text;
      };
      return new StreamableFile(Readable.from(rest()), { type: 'text/plain; charset=utf-8' });
    }
    let text = SHIVIZ_HEADER;
    let next: number | null = null;
    for (let page = first; !page.done; page = await pages.next()) {
      text += page.value.text;
      next = page.value.next;
    }
    if (next !== null) reply.header('X-Next-After', String(next));
    return text;
  }
}
