/**
 * npm run chaos [-- --duration SECONDS --nodes N --seed S --membership 0|1]
 *
 * A real cluster (gateway + N node processes) under a workload of concurrent REST clients,
 * some answering what they read at one node from another node (reply chains), while a
 * nemesis on a seeded schedule changes link faults, partitions nodes, kills -9 and restarts
 * them, pauses them (SIGSTOP/SIGCONT), pauses and resumes their inboxes (copies parked,
 * then released), skews, drifts and steps their physical clocks (and switches clock
 * synchronization), and (unless --membership 0) admits and joins new
 * nodes and retires members, never below N active ones. Then everything heals, the cluster gets a bounded
 * quiescence, and an oracle of our own checks the ground truth we recorded: every 201 is
 * delivered at every node exactly once, every reply after its cause everywhere, nothing
 * delivered that was never sent, the clocks' causal order (libs/causal checker), and the
 * HLC's guarantee (a message's causes carry smaller timestamps).
 * The last line is one JSON summary; the exit code is non-zero on any loss or violation.
 */
import { checkCausalDelivery, HlcChecker, VectorClock } from '@app/causal';
import { ChatMessage } from '@app/contracts';
import { seededRandom } from '../apps/chat-node/src/network/seeded-random';
import { TestCluster } from '../test/support/cluster';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const DURATION_S = arg('duration', 60);
const NODES = arg('nodes', 3);
const SEED = arg('seed', Math.floor(Math.random() * 2 ** 31));
const MEMBERSHIP = arg('membership', 1) !== 0;
/** Slots for nodes that join during the run. */
const SPARE = MEMBERSHIP ? 2 : 0;
const CLIENTS = 6;
const QUIESCENCE_MS = 60_000;

if (!(NODES >= 3 && NODES <= 7)) throw new Error(`--nodes must be 3..7, got ${NODES}`);

const random = seededRandom(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (text: string) =>
  process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 23)}] ${text}\n`);

interface Reply {
  cause: string;
  effect: string;
}

async function post(
  url: string,
  node: string,
  text: string,
  replyTo?: string,
): Promise<ChatMessage | undefined> {
  try {
    const response = await fetch(`${url}/nodes/${node}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(replyTo ? { text, replyTo } : { text }),
      signal: AbortSignal.timeout(5000),
    });
    return response.status === 201 ? ((await response.json()) as ChatMessage) : undefined;
  } catch {
    return undefined;
  }
}

async function latest(url: string, node: string): Promise<ChatMessage | undefined> {
  try {
    const state = (await (
      await fetch(`${url}/nodes/${node}/state`, { signal: AbortSignal.timeout(2000) })
    ).json()) as { lastIndex: number };
    if (!state.lastIndex) return undefined;
    const page = (await (
      await fetch(`${url}/nodes/${node}/messages?after=${state.lastIndex - 1}&limit=1`, {
        signal: AbortSignal.timeout(2000),
      })
    ).json()) as {
      messages: ChatMessage[];
    };
    return page.messages[0];
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  log(`seed ${SEED}, ${NODES} nodes, ${DURATION_S} s`);
  const cluster = await TestCluster.start({
    nodes: NODES,
    spare: SPARE,
    env: { CHAT_LINK_DELAY_MS: '2', CHAT_LINK_JITTER_MS: '30', CHAT_SEED: String(SEED) },
  });
  const url = await cluster.startGateway({
    GATEWAY_CONNECT_TIMEOUT_MS: '300',
    GATEWAY_NODE_TIMEOUT_MS: '3000',
  });
  const ids = cluster.ids;
  const attempted = new Set<string>();
  const acknowledged: ChatMessage[] = [];
  const replies: Reply[] = [];
  const faults: Record<string, number> = {
    links: 0,
    partition: 0,
    kill: 0,
    pause: 0,
    heal: 0,
    join: 0,
    retire: 0,
    clock: 0,
    inbox: 0,
  };
  /** Slots not yet used by a join, and members in the middle of a membership change. */
  const spare = cluster.all.slice(NODES, NODES + SPARE);
  const changing = new Set<string>();
  const retired: string[] = [];
  let membershipBusy = false;
  const membershipProblems: string[] = [];
  const trace: string[] = [];
  const down = new Set<string>();
  const paused = new Set<string>();
  let running = true;

  const client = async (c: number) => {
    for (let n = 0; running; n++) {
      const text = `c${c}-${n}`;
      const at = pick(ids);
      if (random() < 0.35) {
        // A reply chain: read the newest message at one node, answer it at another.
        const cause = await latest(url, pick(ids));
        if (cause) {
          const replyText = `${text} re ${cause.id}`;
          attempted.add(replyText);
          const effect = await post(url, at, replyText, cause.id);
          if (effect) {
            acknowledged.push(effect);
            replies.push({ cause: cause.id, effect: effect.id });
          }
          continue;
        }
      }
      attempted.add(text);
      const message = await post(url, at, text);
      if (message) acknowledged.push(message);
      else await sleep(50);
    }
  };

  const nemesis = async () => {
    while (running) {
      await sleep(800 + random() * 1200);
      if (!running) break;
      const roll = random();
      const target = pick(ids.filter((id) => !down.has(id) && !changing.has(id)));
      if (random() < 0.2) {
        await skewClock(target);
        continue;
      }
      if (random() < 0.15) {
        await holdInbox(target);
        continue;
      }
      if (MEMBERSHIP && roll < 0.25 && !membershipBusy) {
        membershipBusy = true;
        void changeMembership()
          .catch((error: Error) => log(`membership change failed: ${error.stack}`))
          .finally(() => (membershipBusy = false));
        continue;
      }
      if (roll < 0.3) {
        const settings = {
          dropRate: Math.round(random() * 40) / 100,
          duplicateRate: Math.round(random() * 30) / 100,
          delayMs: Math.floor(random() * 50),
          jitterMs: Math.floor(random() * 200),
        };
        const to = pick(ids.filter((id) => !down.has(id)));
        const from = pick(ids.filter((id) => id !== to));
        await fetch(`${url}/network/links/${from}/${to}`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(settings),
        }).catch(() => undefined);
        faults.links++;
        trace.push(`link ${from}->${to} ${JSON.stringify(settings)}`);
      } else if (roll < 0.5) {
        const size =
          NODES >= 5 && random() < 0.5 ? Math.floor(NODES / 2) + (random() < 0.5 ? 1 : 0) : 1;
        const side = [...ids].sort(() => random() - 0.5).slice(0, size);
        for (const a of side) {
          for (const b of ids) {
            if (side.includes(b)) continue;
            await cluster.setLink(a, b, { partitioned: true }).catch(() => undefined);
            await cluster.setLink(b, a, { partitioned: true }).catch(() => undefined);
          }
        }
        faults.partition++;
        trace.push(`partition ${side.join(',')} | rest`);
      } else if (roll < 0.7 && down.size === 0) {
        await cluster.kill(target, 'SIGKILL');
        down.add(target);
        faults.kill++;
        trace.push(`kill -9 ${target}`);
        setTimeout(
          () => {
            void cluster.startNode(target).then(
              () => {
                down.delete(target);
                trace.push(`restart ${target}`);
              },
              (error: Error) => log(`restart of ${target} failed: ${error.message}`),
            );
          },
          1000 + random() * 1500,
        );
      } else if (roll < 0.85 && paused.size === 0) {
        cluster.processes.get(target)?.kill('SIGSTOP');
        paused.add(target);
        faults.pause++;
        trace.push(`SIGSTOP ${target}`);
        setTimeout(
          () => {
            cluster.processes.get(target)?.kill('SIGCONT');
            paused.delete(target);
            trace.push(`SIGCONT ${target}`);
          },
          500 + random() * 1500,
        );
      } else {
        await fetch(`${url}/network`, { method: 'DELETE' }).catch(() => undefined);
        faults.heal++;
        trace.push('heal all');
      }
    }
  };

  /**
   * A physical clock made wrong: a random offset within ±10 min (a step back or forward from
   * wherever it was), a drift up to ±1,000 ppm, or synchronization switched. Timers, repair
   * and delivery must not care; the HLC must still order every cause before its effect.
   */
  const skewClock = async (target: string) => {
    const kind = random();
    const put = (path: string, body: unknown) =>
      fetch(`${url}${path}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(5000),
      }).catch(() => undefined);
    if (kind < 0.6) {
      const offsetMs = Math.round((random() * 2 - 1) * 600_000);
      await put(`/clocks/${target}`, { offsetMs });
      trace.push(`clock ${target} offset ${offsetMs} ms`);
    } else if (kind < 0.85) {
      const driftPpm = Math.round((random() * 2 - 1) * 1_000);
      await put(`/clocks/${target}`, { driftPpm });
      trace.push(`clock ${target} drift ${driftPpm} ppm`);
    } else {
      const mode = pick(['off', 'berkeley', 'cristian']);
      await put('/clocks/sync', { mode });
      trace.push(`clock sync ${mode}`);
    }
    faults.clock++;
  };

  /** A paused inbox: what arrives is parked, then released in arrival order. */
  const inboxes = new Set<string>();
  const setInbox = (id: string, paused: boolean) =>
    fetch(`${url}/nodes/${id}/inbox`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ paused }),
      signal: AbortSignal.timeout(5000),
    }).catch(() => undefined);
  const holdInbox = async (target: string) => {
    if (inboxes.has(target)) return;
    inboxes.add(target);
    await setInbox(target, true);
    faults.inbox++;
    trace.push(`inbox ${target} paused`);
    setTimeout(
      () => {
        void setInbox(target, false).finally(() => inboxes.delete(target));
        trace.push(`inbox ${target} resumed`);
      },
      300 + random() * 1700,
    );
  };

  /** Admits and joins a spare slot, or retires a member (never below NODES active ones). */
  const changeMembership = async () => {
    const operator = (method: string, path: string, body?: unknown) =>
      fetch(`${url}${path}`, {
        method,
        headers: body ? { 'content-type': 'application/json' } : {},
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(40_000),
      }).then(async (response) => ({ status: response.status, body: await response.json() }));
    const candidates = ids.filter((id) => !down.has(id) && !paused.has(id) && !changing.has(id));
    // Alternately: a join while there are only the founding count, else a retirement.
    if (spare.length > 0 && ids.length <= NODES) {
      const id = spare.shift()!;
      changing.add(id);
      const admitted = await operator('POST', '/cluster/members', {
        id,
        address: cluster.address(id),
        publicKey: cluster.publicKey(id),
      }).catch((error: Error) => ({ status: 0, body: { message: error.message } }));
      if (admitted.status !== 201) {
        trace.push(`admit ${id} refused: ${admitted.status} ${JSON.stringify(admitted.body)}`);
        changing.delete(id);
        return;
      }
      // The coordinator has applied the admission: it grants the join at once.
      const via = candidates.includes(admitted.body.nodeId)
        ? admitted.body.nodeId
        : pick(candidates);
      trace.push(`admit ${id}, join through ${via}`);
      log(`admitted ${id}; it joins through ${via}`);
      // A member cut off from the coordinator may not have the admission yet: the joiner
      // says so and stops; it is started again through another member, as an operator would.
      for (let attempt = 0; attempt < 3; attempt++) {
        const through = attempt === 0 ? via : pick(ids.filter((m) => !down.has(m) && m !== id));
        try {
          const joinStart = Date.now();
          await cluster.startJoiner(id, through);
          faults.join++;
          const tookMs = Date.now() - joinStart;
          if (tookMs > 10_000)
            log(
              `${id} took ${tookMs} ms to start:\n${cluster.logs.get(id)?.join('').slice(-1500)}`,
            );
          break;
        } catch (error) {
          trace.push(
            `join of ${id} through ${through} failed: ${(error as Error).message.slice(-200)}`,
          );
          log(`join of ${id} through ${through} failed: ${(error as Error).message.slice(-300)}`);
          await cluster.kill(id);
        }
      }
      changing.delete(id);
      return;
    }
    if (ids.length <= NODES) return;
    const id = pick(candidates);
    if (!id) return;
    changing.add(id);
    const answer = await operator('DELETE', `/cluster/members/${id}`).catch((error: Error) => ({
      status: 0,
      body: { message: error.message },
    }));
    if (answer.status !== 200) {
      trace.push(
        `retire ${id} refused: ${answer.status} ${JSON.stringify(answer.body).slice(0, 200)}`,
      );
      log(`retire ${id} refused: ${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`);
      changing.delete(id);
      return;
    }
    trace.push(`retire ${id}`);
    log(`retired ${id}`);
    ids.splice(ids.indexOf(id), 1);
    retired.push(id);
    faults.retire++;
    const code = await Promise.race([cluster.exitCode(id), sleep(20_000).then(() => 'running')]);
    if (code !== 10) {
      trace.push(`retired ${id} did not exit with 10 (${code})`);
      membershipProblems.push(`retired ${id} did not exit with code 10 (${code})`);
    }
    changing.delete(id);
  };

  const started = Date.now();
  const work = [...Array(CLIENTS).keys()].map(client);
  const chaos = nemesis();
  await sleep(DURATION_S * 1000);
  running = false;
  await Promise.all([...work, chaos]);
  while (membershipBusy || changing.size > 0) await sleep(100);
  log(
    `nemesis stopped after ${Math.round((Date.now() - started) / 1000)} s: ${acknowledged.length} acknowledged; healing`,
  );

  for (const id of [...paused]) cluster.processes.get(id)?.kill('SIGCONT');
  while (down.size > 0) await sleep(100);
  // Every inbox released before the final check (a restarted node's was released anyway).
  while (inboxes.size > 0) await sleep(100);
  for (const id of ids) await setInbox(id, false);
  const healStart = Date.now();
  await fetch(`${url}/network`, { method: 'DELETE' });
  // A node that has not yet delivered an admission has no link from the new member yet; it
  // gets one with the default settings when it does, so such a pair is skipped here.
  for (const to of ids)
    for (const from of ids)
      if (from !== to)
        await cluster
          .setLink(to, from, {
            dropRate: 0,
            duplicateRate: 0,
            delayMs: 0,
            jitterMs: 0,
            partitioned: false,
          })
          .catch((error: { code?: string }) => {
            if (error?.code !== 'INVALID') throw error;
          });
  let logs: Map<string, ChatMessage[]>;
  let converged = true;
  try {
    logs = await cluster.converge(0, QUIESCENCE_MS);
  } catch {
    converged = false;
    logs = new Map();
    for (const id of ids) logs.set(id, await cluster.history(id));
  }
  const convergeMs = Date.now() - healStart;

  // The oracle: ground truth recorded by this process, not the nodes' own claims.
  const violations: string[] = [];
  let lost = 0;
  let duplicates = 0;
  for (const [node, entries] of logs) {
    const positions = new Map<string, number>();
    entries.forEach((m, i) => {
      if (positions.has(m.id)) {
        duplicates++;
        violations.push(`${node}: ${m.id} delivered twice`);
      }
      positions.set(m.id, i);
      // Membership entries ("n3 joined") are the nodes' own: nobody sent them as chat.
      if (!m.member && !attempted.has(m.text))
        violations.push(`${node}: ${m.id} "${m.text}" was never sent`);
    });
    for (const m of acknowledged) {
      if (!positions.has(m.id)) {
        lost++;
        violations.push(`${node}: acknowledged ${m.id} "${m.text}" missing`);
      } else if (entries[positions.get(m.id)!].text !== m.text) {
        violations.push(
          `${node}: ${m.id} has text "${entries[positions.get(m.id)!].text}", acknowledged as "${m.text}"`,
        );
      }
    }
    for (const { cause, effect } of replies) {
      const c = positions.get(cause);
      const e = positions.get(effect);
      if (c === undefined || e === undefined || c > e)
        violations.push(`${node}: reply ${effect} not after its cause ${cause}`);
    }
  }
  const report = checkCausalDelivery({
    deliveries: Object.fromEntries(
      [...logs].map(([id, entries]) => [
        id,
        entries.map((m) => ({ sender: m.sender, seq: m.seq, clock: VectorClock.of(m.clock) })),
      ]),
    ),
  });
  for (const v of report.violations)
    violations.push(`${v.node}: ${v.kind} ${v.message} ${v.detail}`);
  const hlc = new HlcChecker();
  for (const [id, entries] of logs)
    hlc.add(
      id,
      entries.map((m) => ({ ...m, clock: VectorClock.of(m.clock) })),
    );
  const hlcViolations = hlc.report().violations;
  for (const v of hlcViolations) violations.push(`${v.node}: ${v.kind} ${v.message} ${v.detail}`);
  if (!converged) violations.push(`no convergence within ${QUIESCENCE_MS} ms`);
  violations.push(...membershipProblems);

  const states = await Promise.all(ids.map((id) => cluster.state(id).catch(() => undefined)));
  const sum = (key: 'duplicatesDropped' | 'retransmissions') =>
    states.reduce((total, s) => total + (s?.counters[key] ?? 0), 0);
  await cluster.stop();

  const summary = {
    acknowledged: acknowledged.length,
    lost,
    duplicates,
    violations: violations.length,
    hlcViolations: hlcViolations.length,
    faults,
    duplicatesDropped: sum('duplicatesDropped'),
    retransmissions: sum('retransmissions'),
    maxHoldBack: Math.max(0, ...states.map((s) => s?.maxHeld ?? 0)),
    convergeMs,
    nodes: NODES,
    members: [...ids],
    retired,
    durationS: DURATION_S,
    seed: SEED,
  };
  process.stdout.write(
    `chaos: ${summary.acknowledged} acknowledged, faults ${JSON.stringify(faults)}, duplicates dropped ${summary.duplicatesDropped}, ` +
      `retransmissions ${summary.retransmissions}, max hold-back ${summary.maxHoldBack}, converged in ${convergeMs} ms, violations ${violations.length} (HLC ${hlcViolations.length}), lost ${lost}\n`,
  );
  if (violations.length > 0) {
    process.stdout.write(
      `FAILED — replay with: npm run chaos -- --seed ${SEED} --nodes ${NODES} --duration ${DURATION_S}\n`,
    );
    process.stdout.write(
      `first violations:\n  ${violations.slice(0, 10).join('\n  ')}\nnemesis trace:\n  ${trace.join('\n  ')}\n`,
    );
  }
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  process.exit(violations.length > 0 ? 1 : 0);
}

void main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : JSON.stringify(error)}\n`);
  process.exit(2);
});
