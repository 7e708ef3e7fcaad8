import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VectorClock } from '@app/causal';
import { MemberChange } from '@app/contracts';
import type { NodeConfig } from '../config/node.config';
import { MessageLog } from '../storage/message-log';
import { Membership, MembershipEntry } from './membership';

const config = {
  nodeId: 'n0',
  members: [
    { id: 'n0', rpc: 'tcp://127.0.0.1:7000', pub: 'tcp://127.0.0.1:7001' },
    { id: 'n1', rpc: 'tcp://127.0.0.1:7010', pub: 'tcp://127.0.0.1:7011' },
  ],
} as unknown as NodeConfig;

const entry = (
  sender: string,
  seq: number,
  member: MemberChange,
  clock: Record<string, number> = {},
): MembershipEntry => ({
  id: `${sender}:${seq}`,
  sender,
  seq,
  clock: VectorClock.of({ ...clock, [sender]: seq }),
  member,
});
const admit = (id: string, port: number): MemberChange => ({
  op: 'admit',
  id,
  address: `127.0.0.1:${port}`,
});
const states = (m: Membership) => m.all().map((r) => `${r.id}:${r.state}`);

describe('Membership', () => {
  let dir: string;
  let log: MessageLog;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'membership-'));
    log = new MessageLog(dir, 'n0');
  });
  afterEach(() => {
    log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('admits, joins and retires by the rules, whatever comes twice or out of turn', () => {
    const m = new Membership(config, log);
    const changes: string[] = [];
    m.onChange((r) => changes.push(`${r.id}:${r.state}`));
    expect(m.apply(entry('n1', 1, { op: 'join', id: 'n2' }))).toBe(false); // not admitted
    expect(m.apply(entry('n0', 1, admit('n2', 7020)))).toBe(true);
    expect(m.apply(entry('n1', 2, { op: 'join', id: 'n2' }))).toBe(false); // only n2 says it joined
    expect(m.apply(entry('n2', 1, { op: 'join', id: 'n2' }, { n0: 1 }))).toBe(true);
    expect(m.apply(entry('n1', 3, admit('n2', 7099)))).toBe(false); // an id is admitted once
    expect(m.apply(entry('n0', 2, { op: 'retire', id: 'n2', lastSeq: 1 }))).toBe(true);
    expect(m.apply(entry('n1', 4, { op: 'retire', id: 'n2', lastSeq: 1 }))).toBe(false);
    expect(m.apply(entry('n1', 5, admit('n2', 7020)))).toBe(false); // never reused
    expect(changes).toEqual(['n2:admitted', 'n2:active', 'n2:retired']);
    expect(states(m)).toEqual(['n0:active', 'n1:active', 'n2:retired']);
    expect(m.version).toBe(3);
    expect(m.known.has('n2')).toBe(true); // its clock entry stays meaningful
    expect(m.peers().map((r) => r.id)).toEqual(['n1']);
    expect(m.publishers.has('tcp://127.0.0.1:7021')).toBe(false);
  });

  it('settles two admissions of one id that did not see each other the same way in either order', () => {
    const a = entry('n1', 4, admit('n2', 7020));
    const b = entry('n0', 9, admit('n2', 7030));
    const first = new Membership(config, log);
    first.apply(a);
    first.apply(b);
    const second = new Membership(config, log);
    second.apply(b);
    second.apply(a);
    expect(first.get('n2')).toEqual(second.get('n2'));
    expect(first.get('n2')!.since).toBe('n0:9'); // the smaller entry id
    // One that saw the first is a re-admission, and changes nothing.
    const third = new Membership(config, log);
    third.apply(entry('n1', 4, admit('n2', 7020)));
    expect(third.apply(entry('n0', 9, admit('n2', 7030), { n1: 4 }))).toBe(false);
  });

  it('resumes from the data file with the membership its log implies', () => {
    const m = new Membership(config, log);
    m.apply(entry('n0', 1, admit('n2', 7020)));
    log.writeMeta({ membership: m.serialized() });
    log.close();
    log = new MessageLog(dir, 'n0');
    const again = new Membership(config, log);
    expect(states(again)).toEqual(['n0:active', 'n1:active', 'n2:admitted']);
    expect(again.version).toBe(1);
  });
});
