import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { checkCausalDelivery, VectorClock, Violation } from '@app/causal';
import { ChatMessage, HistoryPage, Limits, Requests } from '@app/contracts';
import { NodeDirectory } from '../nodes/node-directory';
import { Operator } from '../operator/operator.decorator';

export interface ConsistencyReport {
  ok: boolean;
  verdict: string;
  checkedAt: string;
  counts: Record<string, number>;
  unreachable: string[];
  violations: Violation[];
}

/** Checks every node's delivery log against causal delivery, in the gateway. */
@ApiTags('cluster')
@Operator()
@Controller('cluster')
export class ClusterController {
  constructor(private readonly nodes: NodeDirectory) {}

  @Get('consistency')
  @ApiOperation({
    summary: "Runs the causal checker over every node's log: verdict and violations",
  })
  @ApiOkResponse({ description: '{ ok, verdict, counts, unreachable, violations[] }' })
  async consistency(): Promise<ConsistencyReport> {
    const deliveries: Record<string, { sender: string; seq: number; clock: VectorClock }[]> = {};
    const unreachable: string[] = [];
    await Promise.all(
      this.nodes.ids.map(async (id) => {
        const log = await this.fullLog(id);
        if (!log) unreachable.push(id);
        else
          deliveries[id] = log.map((m) => ({
            sender: m.sender,
            seq: m.seq,
            clock: VectorClock.of(m.clock),
          }));
      }),
    );
    const report = checkCausalDelivery({ deliveries });
    const verdict = report.ok
      ? `causally consistent: ${Object.keys(deliveries).length} node logs, no violations`
      : `${report.violations.length} violation(s)`;
    return {
      ok: report.ok,
      verdict,
      checkedAt: new Date().toISOString(),
      counts: report.counts,
      unreachable: unreachable.sort(),
      violations: report.violations,
    };
  }

  private async fullLog(id: string): Promise<ChatMessage[] | undefined> {
    const out: ChatMessage[] = [];
    for (;;) {
      const page = await this.nodes.tryRequest<HistoryPage>(id, Requests.history, {
        after: out.length > 0 ? out[out.length - 1].index : 0,
        limit: Limits.historyPageMax,
      });
      if (!page) return undefined;
      out.push(...page.messages);
      if (page.messages.length < Limits.historyPageMax) return out;
    }
  }
}
