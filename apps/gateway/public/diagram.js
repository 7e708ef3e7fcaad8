/* The space-time diagram: live (last 30 s) and the whole run from the logs. */
import { api } from './api.js';
import { $ } from './dom.js';

import { RUN_MAX_MESSAGES, WINDOW_MS, state } from './state.js';
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
function renderDiagram(events, from, to, width, ticks) {
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
    if (e.kind !== 'deliver') continue;
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
    if (sent && e.node !== e.sender)
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
  renderDiagram(state.trace, now - WINDOW_MS, now, svg.clientWidth || 800, ticks);
}

/** Fetches what each node delivered since the last call (all of it the first time). */
async function loadRun() {
  for (const id of state.members) {
    const known = state.run.deliveries.get(id) ?? [];
    state.run.deliveries.set(id, known);
    // Only the newest RUN_MAX_MESSAGES deliveries of a node are drawn, so only they are
    // fetched and kept: a long run costs the page no more than a short one.
    let after = known.length
      ? known[known.length - 1].index
      : Math.max(0, (state.nodes.get(id)?.lastIndex ?? 0) - RUN_MAX_MESSAGES);
    for (;;) {
      let page;
      try {
        page = await api('GET', `/nodes/${id}/messages?after=${after}&limit=1000`);
      } catch {
        break; // a node that is down keeps what was fetched before
      }
      for (const m of page.messages)
        known.push({
          index: m.index,
          id: m.id,
          sender: m.sender,
          sentAt: m.sentAt,
          deliveredAt: m.deliveredAt,
        });
      if (known.length > RUN_MAX_MESSAGES) known.splice(0, known.length - RUN_MAX_MESSAGES);
      if (page.messages.length < 1000) break;
      after = page.messages[page.messages.length - 1].index;
    }
  }
}

/** The finished run: every send and delivery the nodes logged, on the server's clocks. */
function drawRun() {
  const sends = new Map();
  const delivers = [];
  for (const [node, deliveries] of state.run.deliveries) {
    for (const d of deliveries) {
      if (d.sender === node)
        sends.set(d.id, { kind: 'send', node, id: d.id, t: Date.parse(d.sentAt) });
      delivers.push({
        kind: 'deliver',
        node,
        id: d.id,
        sender: d.sender,
        t: Date.parse(d.deliveredAt),
      });
    }
  }
  const all = [...sends.values()].sort((a, b) => a.t - b.t);
  const shown = new Set(all.slice(-RUN_MAX_MESSAGES).map((e) => e.id));
  const events = [...sends.values(), ...delivers].filter((e) => shown.has(e.id));
  for (const e of delivers) {
    const t = state.holds.get(`${e.node}/${e.id}`);
    if (shown.has(e.id) && t !== undefined && t < e.t)
      events.push({ kind: 'hold', node: e.node, id: e.id, t });
  }
  const note = $('#diagram-note');
  const svg = $('#diagram');
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
  // Every message is delivered at every node: the most a node has delivered is the run's size.
  const total = Math.max(all.length, ...[...state.nodes.values()].map((node) => node.lastIndex));
  note.textContent =
    `${total > shown.size ? `The last ${shown.size} of ${total}` : `All ${total}`} ` +
    `messages, from ${new Date(from).toLocaleTimeString()} to ${new Date(to).toLocaleTimeString()} ` +
    `(times as the nodes logged them; held-back bars where this page saw them).`;
}

export async function refreshRun() {
  state.run.loading ??= loadRun().finally(() => (state.run.loading = null));
  await state.run.loading;
  if (state.mode === 'run') drawRun();
}

export function setMode(mode) {
  state.mode = mode;
  $('#mode-live').setAttribute('aria-pressed', String(mode === 'live'));
  $('#mode-run').setAttribute('aria-pressed', String(mode === 'run'));
  $('#diagram-note').textContent = mode === 'run' ? 'Loading the whole run…' : '';
  if (mode === 'run') refreshRun().catch(report);
  else drawLive();
}
