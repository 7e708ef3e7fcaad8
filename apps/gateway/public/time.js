/* Physical clocks: each panel's ticking clock, the matrix of estimates, synchronization. */
import { api } from './api.js';
import { $, el } from './dom.js';
import { state } from './state.js';

const seconds = (ms) => {
  const abs = Math.abs(ms);
  if (abs >= 86_400_000) return `${(ms / 86_400_000).toFixed(2)} d`;
  if (abs >= 3_600_000) return `${(ms / 3_600_000).toFixed(2)} h`;
  if (abs >= 1000) return `${(ms / 1000).toFixed(3)} s`;
  return `${ms.toFixed(1)} ms`;
};
const signed = (ms) => `${ms >= 0 ? '+' : '−'}${seconds(Math.abs(ms))}`;

/** A node's clocks as its state said, and when the page heard it (monotonic). */
export function setTime(node, time) {
  node.time = time;
  node.timeAt = window.performance.now();
  renderTime(node);
}

/** The panel's clock line: the reading ticks between refreshes from the last one heard. */
export function renderTime(node) {
  const t = node.time;
  const line = $('.time', node.panel);
  if (!t || !line) return;
  const now = new Date(Date.parse(t.now) + (window.performance.now() - node.timeAt));
  const off = t.offsetMs;
  const parts = [
    `clock ${now.toISOString().slice(11, 22)}`,
    off === 0 ? 'true time' : `${seconds(Math.abs(off))} ${off < 0 ? 'slow' : 'fast'}`,
  ];
  if (t.driftPpm) parts.push(`drift ${t.driftPpm} ppm`);
  if (t.sync !== 'off') {
    const bound = Math.max(0, ...Object.values(t.peers).map((p) => p.errorMs));
    parts.push(`${t.sync}: corrected ${signed(t.correctionMs)} ± ${seconds(bound)}`);
  }
  line.textContent = parts.join(' · ');
  line.title = `raw clock ${t.rawNow}, used ${t.now}; HLC ${t.hlc.wallMs}.${t.hlc.logical}`;
}

/** Each row is one node's view: its estimate of every other node's clock, with the bound. */
export function renderClockMatrix() {
  const table = $('#clock-matrix');
  if (!table) return;
  const ids = state.members;
  const head = el('tr');
  head.append(el('th', '', 'estimated by ↓ / of →'));
  for (const id of ids) head.append(el('th', '', id));
  const rows = [head];
  for (const from of ids) {
    const row = el('tr');
    row.append(el('th', '', from));
    const time = state.nodes.get(from)?.time;
    for (const to of ids) {
      const estimate = time?.peers?.[to];
      const cell = el(
        'td',
        from === to ? 'self' : '',
        from === to
          ? '—'
          : estimate
            ? `${signed(estimate.offsetMs)} ± ${seconds(estimate.errorMs)}`
            : '…',
      );
      if (estimate)
        cell.title = `${from}'s best of ${estimate.samples} samples: round trip ${estimate.rttMs} ms, at ${estimate.at}`;
      row.append(cell);
    }
    rows.push(row);
  }
  table.replaceChildren(...rows);
  const modes = ids.map((id) => state.nodes.get(id)?.time?.sync).filter(Boolean);
  const select = $('#sync-mode');
  if (modes.length && document.activeElement !== select) select.value = modes[0];
  const synced = modes.length > 0 && modes[0] !== 'off';
  $('#clock-note').textContent = synced
    ? 'Synchronized: the corrected clocks agree only within the estimates’ error bounds (half a round trip) — never exactly, and an asymmetric link biases them.'
    : 'Synchronization is off: each node keeps its raw clock, as wrong as it is set.';
}

export function initClocks(report) {
  $('#sync-mode').addEventListener('change', (event) =>
    api('PUT', '/clocks/sync', { mode: event.target.value }).catch(report),
  );
  $('#reset-clocks').addEventListener('click', () => api('DELETE', '/clocks').catch(report));
  setInterval(() => {
    for (const node of state.nodes.values()) renderTime(node);
  }, 100);
}
