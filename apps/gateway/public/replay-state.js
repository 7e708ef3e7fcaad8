/*
 * The page as a function of events and a time: what every node showed at instant `t` of a
 * run (docs/run-format.md). Pure — no DOM, no network, no imports — so the same file runs in
 * the page and in the tests.
 */

/** Message data by id, from whichever event carries it (a delivery has it all). */
export function messageTable(events) {
  const table = new Map();
  for (const e of events) {
    if (!e.id || !e.clock) continue;
    if (!table.has(e.id))
      table.set(e.id, {
        id: e.id,
        sender: e.sender,
        seq: e.seq,
        clock: e.clock,
        text: e.text,
        ...(e.hlc ? { hlc: e.hlc } : {}),
        ...(e.member ? { member: e.member } : {}),
      });
  }
  return table;
}

/** The index of the first event after time `t` (events in time order): a binary search. */
export function eventsUpTo(events, t) {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (events[mid].at <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** What `message` still waits for at a node whose delivered counts are `clock`. */
export function waitingFor(message, clock) {
  const out = [];
  for (const [node, count] of Object.entries(message.clock ?? {})) {
    const need = node === message.sender ? count - 1 : count;
    for (let seq = (clock[node] ?? 0) + 1; seq <= need; seq++) {
      out.push({ node, seq });
      if (out.length >= 8) return out;
    }
  }
  return out;
}

/** A checkpoint of the derived state every this many events: a seek replays from the nearest. */
export const CHECKPOINT_EVERY = 2_000;

/**
 * Each node's state at time `t`: its deliveries in order (with index), the messages it had
 * taken in but not delivered (held back, with what they waited for), its vector clock, the
 * order messages reached it (`arrived`, own messages included), and whether its inbox was
 * paused. `members` fixes the order; a node that appears later (a joiner) starts empty.
 *
 * A Replayer keeps the state it last computed and moves from there: forward by applying the
 * events in between, backward from the nearest checkpoint before `t` (every
 * CHECKPOINT_EVERY events; the delivered and arrival lists only grow, so a checkpoint keeps
 * their lengths, not copies). Scrubbing a long run costs the events between two positions.
 */
export class Replayer {
  constructor(events, members, table = messageTable(events)) {
    this.events = events;
    this.members = members;
    this.table = table;
    this.nodes = new Map();
    this.next = 0;
    this.checkpoints = [];
    for (const id of members) this.node(id);
    this.checkpoints.push(this.snapshot());
  }

  node(id) {
    let s = this.nodes.get(id);
    if (!s) {
      s = { delivered: [], pending: new Map(), clock: {}, arrived: [], paused: false };
      this.nodes.set(id, s);
    }
    return s;
  }

  snapshot() {
    const nodes = new Map();
    for (const [id, s] of this.nodes)
      nodes.set(id, {
        delivered: s.delivered.length,
        arrived: s.arrived.length,
        pending: new Map(s.pending),
        clock: { ...s.clock },
        paused: s.paused,
      });
    return { next: this.next, nodes };
  }

  restore(checkpoint) {
    for (const [id, s] of this.nodes) {
      const c = checkpoint.nodes.get(id);
      if (!c) {
        this.nodes.delete(id);
        continue;
      }
      s.delivered.length = c.delivered;
      s.arrived.length = c.arrived;
      s.pending = new Map(c.pending);
      s.clock = { ...c.clock };
      s.paused = c.paused;
    }
    this.next = checkpoint.next;
  }

  apply(e) {
    const s = this.node(e.node);
    if (e.kind === 'send' || e.kind === 'receive') {
      if (!s.pending.has(e.id)) s.pending.set(e.id, e);
      s.arrived.push(e.id);
    } else if (e.kind === 'deliver') {
      s.pending.delete(e.id);
      const m = this.table.get(e.id) ?? { id: e.id, sender: e.sender, seq: e.seq, clock: {} };
      s.delivered.push({ ...m, index: e.index, deliveredAt: e.local, at: e.at });
      if ((s.clock[e.sender] ?? 0) < e.seq) s.clock[e.sender] = e.seq;
    } else if (e.kind === 'inbox') {
      if (/^paused/.test(e.detail)) s.paused = true;
      else if (/^resumed/.test(e.detail)) s.paused = false;
    }
  }

  /** The state at `t` (see above). The delivered and arrived lists are shared: read only. */
  at(t) {
    const end = eventsUpTo(this.events, t);
    if (end < this.next) {
      let k = Math.floor(end / CHECKPOINT_EVERY);
      while (k > 0 && !this.checkpoints[k]) k--;
      this.restore(this.checkpoints[k]);
    }
    while (this.next < end) {
      this.apply(this.events[this.next++]);
      if (this.next % CHECKPOINT_EVERY === 0 && !this.checkpoints[this.next / CHECKPOINT_EVERY])
        this.checkpoints[this.next / CHECKPOINT_EVERY] = this.snapshot();
    }
    const out = new Map();
    for (const [id, s] of this.nodes) {
      const held = [];
      for (const e of s.pending.values()) {
        const m = this.table.get(e.id) ?? { id: e.id, sender: e.sender, seq: e.seq };
        held.push({ message: m, waitingFor: m.clock ? waitingFor(m, s.clock) : [] });
      }
      out.set(id, {
        delivered: s.delivered,
        held,
        clock: { ...s.clock },
        arrived: s.arrived,
        paused: s.paused,
      });
    }
    return out;
  }
}

/** Each node's state at time `t` of a run (a Replayer made for one question). */
export function stateAt(events, t, members, table = messageTable(events)) {
  return new Replayer(events, members, table).at(t);
}

/** The times at which anything happened, once each, in order: the slider's steps. */
export function eventTimes(events) {
  const times = [];
  for (const e of events) if (times[times.length - 1] !== e.at) times.push(e.at);
  return times;
}
