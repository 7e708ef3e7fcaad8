/* The space-time diagram: live (last 30 s) and the whole run from the logs. */
import { api } from './api.js';
import { $ } from './dom.js';
import { RUN_MAX_MESSAGES, RUN_OVERLAP, WINDOW_MS, state } from './state.js';
import { report } from './verdict.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

function shape(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

/**
 * Draws events (send / deliver / hold, each with a node, a message id and a time in ms)
 * between `from` and `to` on one line per node: sends ●, deliveries ○, an arrow from a
 * send to each delivery elsewhere, and a bar for the time a message was held back.
 */
export function renderDiagram(events, from, to, width, ticks, cursor) {
  const svg = $('#diagram');
  const height = svg.clientHeight || 220;
  const left = 44;
  const x = (t) => left + ((t - from) / Math.max(1, to - from)) * (width - left - 12);
  const rowGap = (height - 34) / Math.max(1, state.members.length);
  const y = (id) => 20 + rowGap * (state.members.indexOf(id) + 0.5);
  const parts = [];
  for (const id of state.members) {
    parts.push(shape('line', { class: 'axis', x1: left, x2: width - 8, y1: y(id), y2: y(id) }));
    const label = shape('text', { x: 8, y: y(id) + 4 });
    label.textContent = id;
    parts.push(label);
  }
  for (const [t, text] of ticks) {
    const label = shape('text', {
      class: 'tick',
      x: x(t),
      y: height - 6,
      'text-anchor': 'middle',
    });
    label.textContent = text;
    parts.push(label);
  }
  const sends = new Map(events.filter((e) => e.kind === 'send').map((e) => [e.id, e]));
  const holds = new Map(
    events.filter((e) => e.kind === 'hold').map((e) => [`${e.node}/${e.id}`, e]),
  );
  for (const e of events) {
    // A retired node's lane is gone; arrows from or to it go with it.
    if (e.kind !== 'deliver' || !state.members.includes(e.node)) continue;
    const sent = sends.get(e.id);
    const hold = holds.get(`${e.node}/${e.id}`);
    if (hold)
      parts.push(
        shape('line', {
          class: 'holding',
          'data-id': e.id,
          'data-node': e.node,
          x1: x(hold.t),
          x2: x(e.t),
          y1: y(e.node),
          y2: y(e.node),
        }),
      );
    if (sent && e.node !== e.sender && state.members.includes(sent.node))
      parts.push(
        shape('line', {
          class: 'arrow',
          'data-id': e.id,
          'data-node': e.node,
          x1: x(sent.t),
          y1: y(sent.node),
          x2: x(e.t),
          y2: y(e.node),
          'marker-end': 'url(#head)',
        }),
      );
  }
  // A copy parked in a paused inbox: an arrow that stops short of its node's line, with a
  // wide invisible twin on top of everything to click.
  const hits = [];
  for (const e of events) {
    if (e.kind !== 'park' || !state.members.includes(e.node)) continue;
    const sent = sends.get(e.id);
    const toY = y(e.node);
    const fromY = sent ? y(sent.node) : toY - rowGap;
    const line = {
      'data-id': e.id,
      'data-node': e.node,
      'data-flight': e.flightId,
      x1: sent ? x(sent.t) : x(e.t) - 20,
      y1: fromY,
      x2: x(e.t),
      y2: toY - (toY - fromY) * 0.25,
    };
    parts.push(shape('line', { class: 'parked', ...line, 'marker-end': 'url(#head)' }));
    hits.push(shape('line', { class: 'parked-hit', ...line }));
  }
  for (const e of events) {
    if (e.kind === 'send')
      parts.push(
        shape('circle', { class: 'send', 'data-id': e.id, cx: x(e.t), cy: y(e.node), r: 5 }),
      );
    else if (e.kind === 'deliver' && e.node !== e.sender)
      parts.push(
        shape('circle', {
          class: 'deliver',
          'data-id': e.id,
          'data-node': e.node,
          cx: x(e.t),
          cy: y(e.node),
          r: 4,
        }),
      );
  }
  parts.push(...hits);
  // Replay: a cursor at the instant shown, and the future dimmed.
  if (cursor !== undefined) {
    parts.push(
      shape('rect', {
        class: 'future',
        x: x(cursor),
        y: 0,
        width: Math.max(0, width - x(cursor)),
        height,
      }),
      shape('line', { class: 'cursor', x1: x(cursor), x2: x(cursor), y1: 4, y2: height - 16 }),
    );
  }
  const defs = shape('defs', {});
  const marker = shape('marker', {
    id: 'head',
    viewBox: '0 0 6 6',
    refX: 6,
    refY: 3,
    markerWidth: 6,
    markerHeight: 6,
    orient: 'auto',
  });
  marker.append(shape('path', { d: 'M0,0 L6,3 L0,6 z', fill: '#5b6f99' }));
  defs.append(marker);
  svg.replaceChildren(defs, ...parts);
}

export function drawLive() {
  const svg = $('#diagram');
  svg.style.width = '';
  const now = Date.now();
  state.trace = state.trace.filter((e) => e.t > now - WINDOW_MS - 5000);
  const ticks = [0, 10, 20, 30].map((s) => [now - s * 1000, s === 0 ? 'now' : `−${s} s`]);
  const parked = [];
  for (const node of state.nodes.values())
    for (const f of node.inbox?.inFlight ?? [])
      parked.push({
        kind: 'park',
        node: node.id,
        id: f.message.id,
        flightId: f.flightId,
        t: node.flightSeen?.get(f.flightId) ?? now,
      });
  renderDiagram([...state.trace, ...parked], now - WINDOW_MS, now, svg.clientWidth || 800, ticks);
}

/**
 * Fills `state.run.deliveries` with each node's window: following the newest, what was
 * delivered since the last call (the newest RUN_MAX_MESSAGES the first time); an earlier
 * window, its RUN_MAX_MESSAGES deliveries up to its end, once.
 */
async function loadRun() {
  const { end } = state.run;
  if (state.run.loaded !== end) {
    state.run.deliveries.clear();
    state.run.loaded = end;
  }
  for (const id of state.members) {
    const fixedEnd = end?.get(id);
    let known = state.run.deliveries.get(id);
    if (known && fixedEnd !== undefined) continue; // an earlier window does not change
    if (!known) state.run.deliveries.set(id, (known = []));
    // Only a window of each node's deliveries is drawn, so only it is fetched and kept:
    // a long run costs the page no more than a short one.
    let after = known.length
      ? known[known.length - 1].index
      : Math.max(0, (fixedEnd ?? state.nodes.get(id)?.lastIndex ?? 0) - RUN_MAX_MESSAGES);
    for (;;) {
      let page;
      try {
        page = await api('GET', `/nodes/${id}/messages?after=${after}&limit=1000`);
      } catch {
        break; // a node that is down keeps what was fetched before
      }
      for (const m of page.messages)
        if (fixedEnd === undefined || m.index <= fixedEnd)
          known.push({
            index: m.index,
            id: m.id,
            sender: m.sender,
            sentAt: m.sentAt,
            deliveredAt: m.deliveredAt,
            trueSentAt: m.trueSentAt ?? m.sentAt,
            trueDeliveredAt: m.trueDeliveredAt ?? m.deliveredAt,
          });
      if (known.length > RUN_MAX_MESSAGES) known.splice(0, known.length - RUN_MAX_MESSAGES);
      if (page.messages.length < 1000) break;
      after = page.messages[page.messages.length - 1].index;
      if (fixedEnd !== undefined && after >= fixedEnd) break;
    }
    if (state.run.end !== end) return; // the reader paged away meanwhile: refreshRun reloads
  }
}

/** Each node's first and last delivery index in the window on screen (0, 0 when none). */
function windowBounds() {
  const bounds = new Map();
  for (const id of state.members) {
    const known = state.run.deliveries.get(id) ?? [];
    bounds.set(id, [known[0]?.index ?? 0, known[known.length - 1]?.index ?? 0]);
  }
  return bounds;
}

/** Moves the whole-run view to an earlier or later window, or back to the newest. */
export function pageRun(direction) {
  const lastIndex = (id) => state.nodes.get(id)?.lastIndex ?? 0;
  const bounds = windowBounds();
  let end = null;
  if (direction === 'earlier') {
    end = new Map(
      state.members.map((id) => {
        const [first, last] = bounds.get(id);
        const earliest = Math.min(RUN_MAX_MESSAGES, lastIndex(id));
        return [id, first > 1 ? Math.max(earliest, first - 1 + RUN_OVERLAP) : last];
      }),
    );
  } else if (direction === 'later' && state.run.end) {
    const step = RUN_MAX_MESSAGES - RUN_OVERLAP;
    end = new Map(state.members.map((id) => [id, (state.run.end.get(id) ?? 0) + step]));
    if (state.members.every((id) => end.get(id) >= lastIndex(id))) end = null;
  }
  state.run.end = end;
  $('#diagram-note').textContent = 'Loading…';
  refreshRun().catch(report);
}

/** The finished run: every send and delivery the nodes logged, on the server's clocks. */
function drawRun() {
  const sends = new Map();
  const delivers = [];
  // By each node's own clock, a skewed node's events sit where its clock put them: arrows
  // then run backwards in time — why physical timestamps cannot order events.
  const own = state.runAxis === 'node';
  for (const [node, deliveries] of state.run.deliveries) {
    for (const d of deliveries) {
      if (d.sender === node)
        sends.set(d.id, {
          kind: 'send',
          node,
          id: d.id,
          t: Date.parse(own ? d.sentAt : d.trueSentAt),
        });
      delivers.push({
        kind: 'deliver',
        node,
        id: d.id,
        sender: d.sender,
        t: Date.parse(own ? d.deliveredAt : d.trueDeliveredAt),
      });
    }
  }
  const all = [...sends.values()].sort((a, b) => a.t - b.t);
  const shown = new Set(all.slice(-RUN_MAX_MESSAGES).map((e) => e.id));
  const events = [...sends.values(), ...delivers].filter((e) => shown.has(e.id));
  for (const e of own ? [] : delivers) {
    const t = state.holds.get(`${e.node}/${e.id}`);
    if (shown.has(e.id) && t !== undefined && t < e.t)
      events.push({ kind: 'hold', node: e.node, id: e.id, t });
  }
  const note = $('#diagram-note');
  const svg = $('#diagram');
  paintPager(all.length);
  if (events.length === 0) {
    note.textContent = 'Nothing was sent yet.';
    svg.style.width = '';
    renderDiagram([], 0, 1, svg.clientWidth || 800, []);
    return;
  }
  const from = Math.min(...events.map((e) => e.t));
  const to = Math.max(...events.map((e) => e.t));
  const wrapWidth = svg.parentElement.clientWidth || 800;
  const width = Math.max(wrapWidth, Math.min(60_000, shown.size * 14));
  svg.style.width = `${width}px`;
  const span = Math.max(1, to - from);
  const step =
    [100, 250, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000, 300_000, 600_000].find(
      (ms) => (span / ms) * 90 <= width,
    ) ?? 3_600_000;
  const ticks = [];
  for (let t = 0; t <= span; t += step)
    ticks.push([
      from + t,
      step < 1000 ? `+${(t / 1000).toFixed(2)} s` : `+${Math.round(t / 1000)} s`,
    ]);
  renderDiagram(events, from - span * 0.01, to + span * 0.01, width, ticks);
  const total = runSize(all.length);
  const bounds = [...windowBounds().values()].filter(([first]) => first > 0);
  const part = state.run.end
    ? `Messages ${Math.min(...bounds.map(([first]) => first)).toLocaleString()}–` +
      `${Math.max(...bounds.map(([, last]) => last)).toLocaleString()} of ${total}`
    : total > shown.size
      ? `The last ${shown.size} of ${total}`
      : `All ${total}`;
  note.textContent =
    `${part} ` +
    `messages, from ${new Date(from).toLocaleTimeString()} to ${new Date(to).toLocaleTimeString()} ` +
    (own
      ? "(each node's events at its own clock's readings: an arrow that runs backwards is a clock that is wrong, not an effect before its cause)."
      : '(true times as the nodes logged them; held-back bars where this page saw them).');
}

/** Every message is delivered at every node: the most a node has delivered is the run's size. */
function runSize(seen) {
  return Math.max(seen, ...[...state.nodes.values()].map((node) => node.lastIndex));
}

/** The pager shows once the run is longer than one window. */
function paintPager(seen) {
  const pager = $('.run-pager');
  const bounds = [...windowBounds().values()];
  pager.hidden =
    state.mode !== 'run' || (state.run.end === null && runSize(seen) <= RUN_MAX_MESSAGES);
  $('#run-earlier').disabled = bounds.every(([first]) => first <= 1);
  $('#run-later').disabled = state.run.end === null;
  $('#run-newest').disabled = state.run.end === null;
}

export async function refreshRun() {
  // A window asked for while another was loading is loaded right after it.
  do {
    state.run.loading ??= loadRun().finally(() => (state.run.loading = null));
    await state.run.loading;
  } while (state.run.loaded !== state.run.end);
  if (state.mode === 'run') drawRun();
}

/** The whole run on true time, or on each node's own clock. */
export function setAxis(own) {
  state.runAxis = own ? 'node' : 'true';
  $('#axis-node').setAttribute('aria-pressed', String(own));
  if (state.mode === 'run') drawRun();
}

export function setMode(mode) {
  state.mode = mode;
  $('#axis-node').hidden = mode !== 'run';
  $('#mode-live').setAttribute('aria-pressed', String(mode === 'live'));
  $('#mode-run').setAttribute('aria-pressed', String(mode === 'run'));
  $('#diagram-note').textContent = mode === 'run' ? 'Loading the whole run…' : '';
  if (mode === 'run') refreshRun().catch(report);
  else {
    $('.run-pager').hidden = true;
    drawLive();
  }
}
