import {
  Body,
  ConflictException,
  Controller,
  Delete,
  Get,
  HttpException,
  Inject,
  NotFoundException,
  Param,
  ParseBoolPipe,
  Post,
  Query,
  ServiceUnavailableException,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { MembershipView, Requests } from '@app/contracts';
import { GATEWAY_CONFIG, GatewayConfig } from '../config/gateway.config';
import { NodeDirectory } from '../nodes/node-directory';
import { ErrorView } from '../nodes/nodes.dto';
import { Operator } from '../operator/operator.decorator';
import { AddedNodeView, AddNodeDto, AdmitMemberDto, MembershipViewDto } from './members.dto';

/** How long a retirement may take at its coordinator: it waits for the member's messages (ms). */
const RETIRE_TIMEOUT_MS = 30_000;

/**
 * Who is in the cluster, and changing it: admit a member (it may then join), retire one.
 * A change is made by one member, the coordinator (the first active member that answers),
 * as an entry of its causal log; every node applies it when it delivers the entry.
 */
@ApiTags('cluster')
@Operator()
@ApiServiceUnavailableResponse({
  description: 'No member could coordinate the change.',
  type: ErrorView,
})
@Controller('cluster')
export class MembersController {
  constructor(
    private readonly nodes: NodeDirectory,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  @Get('members')
  @ApiOperation({ summary: 'Every member with its address and state (admitted, active, retired)' })
  @ApiOkResponse({ type: MembershipViewDto })
  async list(): Promise<MembershipView> {
    await this.nodes.refresh();
    const view = await this.coordinate((id) =>
      this.nodes.request<MembershipView>(id, Requests.membership),
    );
    this.nodes.follow(view);
    return view;
  }

  @Post('members')
  @ApiOperation({
    summary: 'Admit a member: every node then accepts its key and expects it to join (CHAT_JOIN)',
  })
  @ApiCreatedResponse({ type: MembershipViewDto })
  @ApiBadRequestResponse({ description: 'Which field is wrong.', type: ErrorView })
  @ApiConflictResponse({
    description: 'The id or the address is taken, or was retired.',
    type: ErrorView,
  })
  async admit(@Body() body: AdmitMemberDto): Promise<MembershipView> {
    const view = await this.coordinate((id) =>
      this.nodes.request<MembershipView>(id, Requests.admit, {
        id: body.id,
        address: body.address,
        ...(body.publicKey ? { publicKey: body.publicKey } : {}),
      }),
    );
    this.nodes.follow(view);
    return view;
  }

  @Delete('members/:id')
  @ApiOperation({
    summary:
      'Retire a member: once its messages are safe at another member it is told to stop, and nobody waits for it any more',
  })
  @ApiQuery({
    name: 'force',
    required: false,
    description:
      'Retire a member that does not answer, with what the others have of it: messages only it had are lost.',
  })
  @ApiOkResponse({ type: MembershipViewDto })
  @ApiNotFoundResponse({ description: 'Unknown or already retired member.', type: ErrorView })
  @ApiConflictResponse({
    description: 'The last active member, or its messages are not safe elsewhere yet.',
    type: ErrorView,
  })
  async retire(
    @Param('id') id: string,
    @Query('force', new ParseBoolPipe({ optional: true })) force?: boolean,
  ): Promise<MembershipView> {
    const record = this.nodes.get(id);
    if (!record || record.state === 'retired')
      throw new NotFoundException(
        `${record ? `${id} is already retired` : `unknown member "${id}"`}; the members are ${this.nodes.ids.join(', ')}`,
      );
    const others = this.nodes.ids.filter(
      (other) => other !== id && this.nodes.get(other)?.state === 'active',
    );
    if (others.length === 0)
      throw new ConflictException(
        `cannot retire ${id}: it is the last active member of the cluster`,
      );
    const view = await this.coordinate(
      (coordinator) =>
        this.nodes.request<MembershipView>(
          coordinator,
          Requests.retire,
          { id, force: force === true },
          RETIRE_TIMEOUT_MS,
        ),
      others,
    );
    this.nodes.follow(view);
    return view;
  }

  @Post('nodes')
  @ApiOperation({
    summary:
      'Add a node on the local cluster: the launcher of `npm start` makes its keys, admits it and starts it under supervision',
  })
  @ApiCreatedResponse({ type: AddedNodeView })
  @ApiServiceUnavailableResponse({
    description: 'This gateway was not started by npm start.',
    type: ErrorView,
  })
  async add(@Body() body: AddNodeDto): Promise<AddedNodeView> {
    const launcher = this.config.launcher;
    if (!launcher)
      throw new ServiceUnavailableException(
        'no launcher: this gateway was not started by npm start. Admit the node (POST /cluster/members) and start it with CHAT_NODE_ID, CHAT_NODE_ADDRESS and CHAT_JOIN',
      );
    let response: Response;
    try {
      response = await fetch(`${launcher.url}/nodes`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${launcher.token}` },
        body: JSON.stringify({ id: body.id }),
        signal: AbortSignal.timeout(60_000),
      });
    } catch (error) {
      throw new ServiceUnavailableException(
        `the launcher at ${launcher.url} did not answer: ${(error as Error).message}`,
      );
    }
    const answer = (await response.json().catch(() => ({}))) as {
      message?: string;
    } & Partial<AddedNodeView>;
    if (!response.ok)
      throw new HttpException(
        answer.message ?? `the launcher answered ${response.status}`,
        response.status,
      );
    await this.nodes.refresh();
    return answer as AddedNodeView;
  }

  /**
   * Runs `work` at the first of `candidates` (active members by default) that answers: a
   * member that is down is skipped, an answer (success or refusal) is final.
   */
  private async coordinate<T>(
    work: (id: string) => Promise<T>,
    candidates = this.nodes.ids.filter((id) => this.nodes.get(id)?.state === 'active'),
  ): Promise<T> {
    const tried: string[] = [];
    for (const id of candidates) {
      try {
        return await work(id);
      } catch (error) {
        if (!(error instanceof ServiceUnavailableException)) throw error;
        tried.push((error.getResponse() as { message?: string }).message ?? id);
      }
    }
    throw new ServiceUnavailableException(
      `no member could make the change: ${tried.join('; ') || 'no active member'}`,
    );
  }
}
