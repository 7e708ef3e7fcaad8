import { BadRequestException, Body, Controller, Delete, Get, Param, Put } from '@nestjs/common';
import {
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { LinkSettings, Requests } from '@app/contracts';
import { NodeDirectory } from '../nodes/node-directory';
import { Operator } from '../operator/operator.decorator';
import { ErrorView } from '../nodes/nodes.dto';
import { LinkSettingsDto } from './network.dto';

interface LinkView extends LinkSettings {
  from: string;
  to: string;
}

/** Links are simulated at the receiving node: link from->to lives at node `to`. */
@ApiTags('network')
@ApiNotFoundResponse({ type: ErrorView })
@ApiServiceUnavailableResponse({ type: ErrorView })
@Controller('network')
export class NetworkController {
  constructor(private readonly nodes: NodeDirectory) {}

  @Get()
  @ApiOperation({
    summary: 'Every simulated link (unreachable nodes are listed under `unreachable`)',
  })
  @ApiOkResponse({ description: '{ links: [{from, to, delayMs, …}], unreachable: [ids] }' })
  async all(): Promise<{ links: LinkView[]; unreachable: string[] }> {
    const links: LinkView[] = [];
    const unreachable: string[] = [];
    await Promise.all(
      this.nodes.ids.map(async (to) => {
        const reply = await this.nodes.tryRequest<{ links: Record<string, LinkSettings> }>(
          to,
          Requests.networkGet,
        );
        if (!reply) unreachable.push(to);
        else
          for (const [from, settings] of Object.entries(reply.links))
            links.push({ from, to, ...settings });
      }),
    );
    links.sort((a, b) => (a.from + a.to < b.from + b.to ? -1 : 1));
    return { links, unreachable: unreachable.sort() };
  }

  @Delete()
  @Operator()
  @ApiOperation({ summary: 'Reset every link to its configured default (operator)' })
  async reset(): Promise<{ links: LinkView[]; unreachable: string[] }> {
    await Promise.all(this.nodes.ids.map((id) => this.nodes.tryRequest(id, Requests.networkReset)));
    return this.all();
  }

  @Get('links/:from/:to')
  @ApiOperation({ summary: 'The simulated link from -> to' })
  async get(@Param('from') from: string, @Param('to') to: string): Promise<LinkView> {
    this.checkPair(from, to);
    const reply = await this.nodes.request<{ links: Record<string, LinkSettings> }>(
      to,
      Requests.networkGet,
    );
    return { from, to, ...reply.links[from] };
  }

  @Put('links/:from/:to')
  @Operator()
  @ApiOperation({ summary: 'Change the link from -> to (any subset of its settings; operator)' })
  async set(
    @Param('from') from: string,
    @Param('to') to: string,
    @Body() body: LinkSettingsDto,
  ): Promise<LinkView> {
    this.checkPair(from, to);
    const reply = await this.nodes.request<{ settings: LinkSettings }>(to, Requests.networkSet, {
      from,
      settings: body,
    });
    return { from, to, ...reply.settings };
  }

  private checkPair(from: string, to: string): void {
    this.nodes.assertKnown(from);
    this.nodes.assertKnown(to);
    if (from === to)
      throw new BadRequestException(
        `from and to must differ (a node has no link to itself: ${from})`,
      );
  }
}
