import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import type { RunEvent } from '@app/contracts';

/**
 * The page's `stateAt` (apps/gateway/public/replay-state.js). The page's modules are served
 * as written, with no bundler, and this project's tests are CommonJS: the test evaluates the
 * very file the page runs (it imports nothing and exports only functions).
 */
type Held = { message: { id: string }; waitingFor: { node: string; seq: number }[] };
type NodeView = {
  delivered: { id: string; index: number }[];
  held: Held[];
  clock: Record<string, number>;
  arrived: string[];
  paused: boolean;
};
const source = readFileSync(join(__dirname, '../../public/replay-state.js'), 'utf8');
const { stateAt, eventTimes, Replayer, CHECKPOINT_EVERY } = new Function(
  `${source.replace(/^export /gm, '')}\nreturn { stateAt, eventTimes, Replayer, CHECKPOINT_EVERY };`,
)() as {
  stateAt: (events: RunEvent[], t: number, members: string[]) => Map<string, NodeView>;
  eventTimes: (events: RunEvent[]) => number[];
  Replayer: new (events: RunEvent[], members: string[]) => { at(t: number): Map<string, NodeView> };
  CHECKPOINT_EVERY: number;
};

const m = (id: string, clock: Record<string, number>, text = id) => {
  const [sender, seq] = id.split(':');
  return { id, sender, seq: Number(seq), clock, text };
};
const ev = (at: number, node: string, kind: RunEvent['kind'], extra: Partial<RunEvent> = {}) =>
  ({ at, local: at, node, kind, ...extra }) as RunEvent;

describe('stateAt', () => {
  const hello = m('n0:1', { n0: 1 });
  const reply = m('n1:1', { n0: 1, n1: 1 });
  const run: RunEvent[] = [
    ev(10, 'n0', 'send', hello),
    ev(10, 'n0', 'deliver', { ...hello, index: 1 }),
    ev(20, 'n1', 'receive', hello),
    ev(20, 'n1', 'deliver', { ...hello, index: 1 }),
    ev(30, 'n1', 'send', reply),
    ev(30, 'n1', 'deliver', { ...reply, index: 2 }),
    ev(40, 'n2', 'receive', { id: reply.id, sender: 'n1', seq: 1 }), // held: its cause is late
    ev(45, 'n2', 'duplicate', { id: reply.id, sender: 'n1', seq: 1 }),
    ev(50, 'n2', 'receive', hello),
    ev(50, 'n2', 'deliver', { ...hello, index: 1 }),
    ev(50, 'n2', 'deliver', { ...reply, index: 2 }),
  ];

  it('shows a message held back, with what it waits for, then delivered when its cause arrives', () => {
    const before = stateAt(run, 44, ['n0', 'n1', 'n2']).get('n2')!;
    expect(before.delivered).toEqual([]);
    expect(before.held).toEqual([
      { message: expect.objectContaining({ id: 'n1:1' }), waitingFor: [{ node: 'n0', seq: 1 }] },
    ]);
    expect(before.clock).toEqual({});
    // The duplicate changes nothing.
    expect(stateAt(run, 49, ['n0', 'n1', 'n2']).get('n2')!.held).toHaveLength(1);
    const after = stateAt(run, 50, ['n0', 'n1', 'n2']).get('n2')!;
    expect(after.delivered.map((d) => [d.id, d.index])).toEqual([
      ['n0:1', 1],
      ['n1:1', 2],
    ]);
    expect(after.held).toEqual([]);
    expect(after.clock).toEqual({ n0: 1, n1: 1 });
    expect(after.arrived).toEqual(['n1:1', 'n0:1']);
  });

  it('starts a node that joins mid-run empty, and follows a paused inbox', () => {
    const joined = [
      ...run,
      ev(60, 'n3', 'receive', hello),
      ev(60, 'n3', 'deliver', { ...hello, index: 1 }),
      ev(70, 'n3', 'inbox', { detail: 'paused' }),
      ev(80, 'n3', 'inbox', { detail: 'resumed: 0 released' }),
    ];
    expect(stateAt(joined, 55, ['n0', 'n1', 'n2']).get('n3')).toBeUndefined();
    expect(stateAt(joined, 75, ['n0', 'n1', 'n2']).get('n3')).toMatchObject({
      delivered: [{ id: 'n0:1' }],
      paused: true,
    });
    expect(stateAt(joined, 80, ['n0']).get('n3')!.paused).toBe(false);
    expect(eventTimes(joined)).toEqual([10, 20, 30, 40, 45, 50, 60, 70, 80]);
  });

  it('replayed to its end, a run gives every node exactly its final log and clock', () => {
    // Random causal executions: each step a node sends, or delivers a message whose causes
    // it has (held ones are received first, sometimes long before).
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 5 }),
        fc.array(fc.record({ node: fc.nat(4), send: fc.boolean(), pick: fc.nat() }), {
          minLength: 1,
          maxLength: 80,
        }),
        (n, steps) => {
          const ids = Array.from({ length: n }, (_, i) => `n${i}`);
          const clocks = ids.map(() => ({}) as Record<string, number>);
          const logs = ids.map(() => [] as string[]);
          const received = ids.map(() => new Set<string>());
          const sent: ReturnType<typeof m>[] = [];
          const events: RunEvent[] = [];
          let at = 0;
          const deliver = (i: number, msg: ReturnType<typeof m>) => {
            logs[i].push(msg.id);
            clocks[i][msg.sender] = msg.seq;
            events.push(ev(at, ids[i], 'deliver', { ...msg, index: logs[i].length }));
          };
          for (const step of steps) {
            at += 1;
            const i = step.node % n;
            if (step.send) {
              const seq = (clocks[i][ids[i]] ?? 0) + 1;
              const msg = m(`${ids[i]}:${seq}`, { ...clocks[i], [ids[i]]: seq });
              sent.push(msg);
              events.push(ev(at, ids[i], 'send', msg));
              deliver(i, msg);
              continue;
            }
            const unseen = sent.filter((s) => !logs[i].includes(s.id));
            if (unseen.length === 0) continue;
            const msg = unseen[step.pick % unseen.length];
            if (!received[i].has(msg.id)) {
              received[i].add(msg.id);
              events.push(
                ev(at, ids[i], 'receive', { id: msg.id, sender: msg.sender, seq: msg.seq }),
              );
            }
            const ready = Object.entries(msg.clock).every(([k, v]) =>
              k === msg.sender ? (clocks[i][k] ?? 0) === v - 1 : (clocks[i][k] ?? 0) >= v,
            );
            if (ready) deliver(i, msg);
          }
          const state = stateAt(events, Infinity, ids);
          ids.forEach((id, i) => {
            const s = state.get(id)!;
            expect(s.delivered.map((d) => d.id)).toEqual(logs[i]);
            expect(s.delivered.map((d) => d.index)).toEqual(logs[i].map((_, k) => k + 1));
            expect(s.clock).toEqual(clocks[i]);
          });
        },
      ),
    );
  });

  it('seeks back and forth through checkpoints to the same state as a fresh replay', () => {
    // A long run: many senders' messages delivered at three nodes, past several checkpoints.
    const events: RunEvent[] = [];
    const counts: Record<string, number> = {};
    let at = 0;
    for (let i = 0; events.length < CHECKPOINT_EVERY * 3; i++) {
      const sender = `n${i % 3}`;
      counts[sender] = (counts[sender] ?? 0) + 1;
      const msg = m(`${sender}:${counts[sender]}`, { ...counts });
      at++;
      events.push(ev(at, sender, 'send', msg), ev(at, sender, 'deliver', { ...msg, index: i + 1 }));
      for (const node of ['n0', 'n1', 'n2'].filter((n) => n !== sender)) {
        events.push(ev(at, node, 'receive', { id: msg.id, sender, seq: msg.seq }));
        events.push(ev(at, node, 'deliver', { ...msg, index: i + 1 }));
      }
      if (i % 500 === 0)
        events.push(ev(at, 'n2', 'inbox', { detail: i % 1000 ? 'resumed' : 'paused' }));
    }
    const members = ['n0', 'n1', 'n2'];
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: at + 1 }), { minLength: 1, maxLength: 12 }),
        (ts) => {
          const replayer = new Replayer(events, members);
          for (const t of ts) {
            const moved = replayer.at(t);
            const fresh = stateAt(events, t, members);
            for (const id of members) {
              const a = moved.get(id)!;
              const b = fresh.get(id)!;
              expect(a.delivered.map((d) => d.id)).toEqual(b.delivered.map((d) => d.id));
              expect(a.arrived).toEqual(b.arrived);
              expect(a.clock).toEqual(b.clock);
              expect(a.held).toEqual(b.held);
              expect(a.paused).toBe(b.paused);
            }
          }
        },
      ),
      { numRuns: 30 },
    );
  });
});
