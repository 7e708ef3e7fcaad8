import { Readable } from 'node:stream';
import {
  BadRequestException,
  Controller,
  Get,
  Header,
  Logger,
  Query,
  StreamableFile,
} from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsOptional, Matches } from 'class-validator';
import {
  Limits,
  mergeRunStreams,
  Requests,
  RUN_FORMAT,
  RUN_VERSION,
  RunEvent,
  RunHeader,
  RunPage,
} from '@app/contracts';
import { NodeDirectory } from '../nodes/node-directory';

/** The window a run covers when none is given: the last ten minutes. */
export const RUN_DEFAULT_WINDOW_MS = 10 * 60 * 1000;
export const RUN_LIMIT_DEFAULT = 100_000;
export const RUN_LIMIT_MAX = 1_000_000;

const TIME = /^(\d{1,15}|\d{4}-\d{2}-\d{2}T[\d:.]+Z)$/;

export class ClusterRunQueryDto {
  @ApiPropertyOptional({
    description:
      'Start of the window of true time: ms since 1970 or ISO (default: 10 minutes before `to`).',
    example: '2026-12-07T21:00:00.000Z',
  })
  @IsOptional()
  @Matches(TIME, {
    message: 'from must be a time: ms since 1970, or ISO like 2026-12-07T21:00:00Z',
  })
  from?: string;

  @ApiPropertyOptional({ description: 'End of the window (default: now), included.' })
  @IsOptional()
  @Matches(TIME, { message: 'to must be a time: ms since 1970, or ISO like 2026-12-07T21:00:00Z' })
  to?: string;

  @ApiPropertyOptional({
    description: `At most this many events (whole milliseconds, so a few more); the rest is in \`next\`. Default ${RUN_LIMIT_DEFAULT}, at most ${RUN_LIMIT_MAX}.`,
  })
  @IsOptional()
  @Matches(/^[1-9][0-9]{0,6}$/, { message: `limit must be an integer from 1 to ${RUN_LIMIT_MAX}` })
  limit?: string;
}

const parseTime = (text: string) => (/^\d+$/.test(text) ? Number(text) : Date.parse(text));

/**
 * A run: every member's events in a window of true time, merged in time order, as one JSON
 * document streamed in constant memory (docs/run-format.md). Each node is read a page at a
 * time and the merge holds one event per node.
 */
@ApiTags('cluster')
@Controller('cluster')
export class ClusterRunController {
  private readonly logger = new Logger(ClusterRunController.name);

  constructor(private readonly nodes: NodeDirectory) {}

  @Get('run')
  @Header('Content-Type', 'application/json; charset=utf-8')
  @Header('Content-Disposition', 'attachment; filename="run.json"')
  @ApiOperation({ summary: "Every member's events in a window of true time: a run file to replay" })
  @ApiOkResponse({ description: 'A run (format causal-chat-run, version 1), streamed.' })
  run(@Query() query: ClusterRunQueryDto): StreamableFile {
    const to = query.to ? parseTime(query.to) : Date.now();
    const from = query.from ? parseTime(query.from) : to - RUN_DEFAULT_WINDOW_MS;
    if (Number.isNaN(to)) throw new BadRequestException('to is not a valid time');
    if (Number.isNaN(from)) throw new BadRequestException('from is not a valid time');
    if (from > to) throw new BadRequestException(`from (${from}) must not be after to (${to})`);
    const limit = Number(query.limit ?? RUN_LIMIT_DEFAULT);
    const members = [...this.nodes.ids];
    const unreachable: string[] = [];
    const header: RunHeader = {
      format: RUN_FORMAT,
      version: RUN_VERSION,
      from,
      to,
      members,
      createdAt: new Date().toISOString(),
    };
    const nodes = this.nodes;
    const logger = this.logger;
    async function* nodeEvents(id: string): AsyncGenerator<RunEvent> {
      let after: string | undefined;
      for (;;) {
        let page: RunPage | undefined;
        try {
          page = await nodes.tryRequest<RunPage>(id, Requests.run, {
            ...(after !== undefined ? { after } : {}),
            limit: Limits.logPageMaxEvents,
            fromMs: from,
            toMs: to,
          });
        } catch (error) {
          // The header is out: a node's failure ends its part of the run, said in the trailer.
          logger.warn(`run: ${id} failed: ${(error as Error).message}`);
        }
        if (!page) {
          unreachable.push(id);
          return;
        }
        yield* page.events;
        if (page.next === null) return;
        after = page.next;
      }
    }
    async function* body(): AsyncGenerator<string> {
      const text = JSON.stringify(header);
      yield `${text.slice(0, -1)},"events":[`;
      let count = 0;
      let lastAt: number | undefined;
      let next: { from: number; to: number } | null = null;
      for await (const event of mergeRunStreams(members.map(nodeEvents))) {
        // Stop only between two milliseconds, so the next window starts cleanly after it.
        if (count >= limit && event.at !== lastAt) {
          next = { from: lastAt! + 1, to };
          break;
        }
        yield `${count === 0 ? '\n' : ',\n'}${JSON.stringify(event)}`;
        count++;
        lastAt = event.at;
      }
      yield `\n],"count":${count},"next":${JSON.stringify(next)},"unreachable":${JSON.stringify(unreachable.sort())}}\n`;
    }
    return new StreamableFile(Readable.from(body()), { type: 'application/json; charset=utf-8' });
  }
}
