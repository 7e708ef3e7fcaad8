import { Limits, LogPage, Requests } from '@app/contracts';
import { NodeDirectory } from '../nodes/node-directory';

/** Node `id`'s event log pages after `after`, until `limit` events (whole commits) or its end. */
export async function* logPages(
  nodes: NodeDirectory,
  id: string,
  after: number,
  limit: number,
): AsyncGenerator<LogPage> {
  let cursor: number | null = after;
  for (let left = limit; cursor !== null && left > 0;) {
    const page: LogPage = await nodes.request<LogPage>(id, Requests.log, {
      after: cursor,
      limit: Math.min(left, Limits.logPageMaxEvents),
    });
    yield page;
    left -= page.events;
    cursor = page.next;
  }
}
