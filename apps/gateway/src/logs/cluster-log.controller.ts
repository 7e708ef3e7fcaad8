import { Readable } from 'node:stream';
import {
  BadRequestException,
  Controller,
  Get,
  Header,
  Query,
  Res,
  StreamableFile,
} from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import {
  ApiOkResponse,
  ApiOperation,
  ApiPropertyOptional,
  ApiTags,
  OmitType,
} from '@nestjs/swagger';
import { IsOptional, Matches } from 'class-validator';
import { SHIVIZ_HEADER } from '@app/contracts';
import { NodeDirectory } from '../nodes/node-directory';
import { LOG_LIMIT_DEFAULT, LOG_LIMIT_MAX, LogQueryDto } from '../nodes/nodes.dto';
import { logPages } from './log-pages';

/** The node log's `format` and `limit`, with a cursor across the members instead of one log's. */
export class ClusterLogQueryDto extends OmitType(LogQueryDto, ['after'] as const) {
  @ApiPropertyOptional({
    description:
      'Cursor `node:after` from a previous answer’s `X-Next-After`: the nodes before it are done, that node goes on after its cursor, the rest from their start.',
    example: 'n1:40',
  })
  @IsOptional()
  @Matches(/^[A-Za-z][A-Za-z0-9_-]{0,31}:(0|[1-9][0-9]{0,14})$/, {
    message: 'after must be a cursor "node:position" from X-Next-After',
  })
  after?: string;
}

/**
 * Every member's event log as one ShiViz log. ShiViz needs all of them: one node's log names
 * in its clocks hosts that have no events in it, and ShiViz refuses such a log. Each node's
 * events follow the previous node's (ShiViz orders events by their clocks, not by lines).
 */
@ApiTags('cluster')
@Controller('cluster')
export class ClusterLogController {
  constructor(private readonly nodes: NodeDirectory) {}

  @Get('log')
  @Header('Content-Type', 'text/plain; charset=utf-8')
  @ApiOperation({
    summary: "Every member's event log as one ShiViz log (paste it into ShiViz)",
  })
  @ApiOkResponse({
    description: `ShiViz log text: up to \`limit\` events (default ${LOG_LIMIT_DEFAULT}); \`X-Next-After\` is the cursor of the rest. \`limit=all\` streams all of it in constant memory.`,
    schema: { type: 'string' },
  })
  async log(
    @Query() query: ClusterLogQueryDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string | StreamableFile> {
    if (query.format !== undefined && query.format !== 'shiviz')
      throw new BadRequestException(`format must be "shiviz", got "${query.format}"`);
    const limit = query.limit === 'all' ? Infinity : Number(query.limit ?? LOG_LIMIT_DEFAULT);
    if (Number.isFinite(limit) && limit > LOG_LIMIT_MAX)
      throw new BadRequestException(
        `limit must be "all" or an integer from 1 to ${LOG_LIMIT_MAX}, got ${query.limit}`,
      );
    const ids = [...this.nodes.ids].sort();
    let start = 0;
    let after = 0;
    if (query.after) {
      const [id, position] = query.after.split(':');
      start = ids.indexOf(id);
      if (start < 0)
        throw new BadRequestException(
          `after names ${id}, not a member (${ids.join(', ')}): start again without a cursor`,
        );
      after = Number(position);
    }
    const nodes = this.nodes;
    /** The pages of every node from the cursor on, with the node each came from. */
    async function* pages(left: number) {
      for (let i = start; i < ids.length && left > 0; i++) {
        for await (const page of logPages(nodes, ids[i], i === start ? after : 0, left)) {
          left -= page.events;
          yield { id: ids[i], index: i, page };
        }
      }
    }
    if (limit === Infinity) {
      // The first node's first page is read before answering: a node down is a 503.
      const stream = pages(Infinity);
      const first = await stream.next();
      const rest = async function* () {
        yield SHIVIZ_HEADER;
        if (!first.done) yield first.value.page.text;
        for await (const { page } of stream) yield page.text;
      };
      return new StreamableFile(Readable.from(rest()), { type: 'text/plain; charset=utf-8' });
    }
    let text = SHIVIZ_HEADER;
    let next: string | null = null;
    let events = 0;
    for await (const { id, index, page } of pages(limit)) {
      text += page.text;
      events += page.events;
      next =
        page.next !== null
          ? `${id}:${page.next}`
          : index + 1 < ids.length
            ? `${ids[index + 1]}:0`
            : null;
    }
    if (next !== null && events >= limit) reply.header('X-Next-After', next);
    return text;
  }
}
