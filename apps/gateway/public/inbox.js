/* Each node's inbox: pause it, and deliver, drop or duplicate each message in flight by hand. */
import { api } from './api.js';
import { compact, full } from './clocks.js';
import { $, el } from './dom.js';
import { state } from './state.js';
import { report } from './verdict.js';

const ACTIONS = [
  ['deliver', 'Deliver'],
  ['drop', 'Drop'],
  ['duplicate', 'Duplicate'],
];

export const pauseInbox = (id, paused) => api('PUT', `/nodes/${id}/inbox`, { paused });

/** One action on a parked copy; the tray and the panel follow from the node's events. */
export async function actOn(id, flightId, action) {
  const result = await api('POST', `/nodes/${id}/inbox/${flightId}`, { action });
  const node = state.nodes.get(id);
  if (node && result.outcome) {
    const said =
      result.outcome === 'held-back'
        ? `held back, waiting for ${result.waitingFor.map((w) => `${w.node} #${w.seq}`).join(', ')}`
        : result.outcome === 'delivered'
          ? `delivered ${result.delivered.join(', ')}`
          : result.outcome === 'duplicate-dropped'
            ? 'a duplicate: dropped'
            : 'refused';
    $('.tray-note', node.panel).textContent = said;
  }
  return result;
}

/** The inbox as the node last said it (hello, the `inbox` event, or a refresh). */
export function setInbox(node, view) {
  node.inbox = view;
  const now = Date.now();
  // When this page first saw each copy parked: the live diagram's time is the page's.
  const seen = new Map();
  for (const f of view.inFlight) seen.set(f.flightId, node.flightSeen?.get(f.flightId) ?? now);
  node.flightSeen = seen;
  renderInbox(node);
}

function renderInbox(node) {
  const view = node.inbox;
  const paused = Boolean(view?.paused);
  node.panel.classList.toggle('paused', paused);
  const button = $('.pause', node.panel);
  button.textContent = paused ? 'Resume' : 'Pause';
  button.setAttribute('aria-pressed', String(paused));
  const tray = $('.tray', node.panel);
  tray.hidden = !paused && (view?.inFlight.length ?? 0) === 0;
  $('.tray-title', node.panel).textContent = paused
    ? `In flight to ${node.id} — paused${view.pausedBy === 'hold-back' ? ' by its hold-back breakpoint' : ''} (${view.inFlight.length})`
    : 'In flight';
  const list = $('.flights', node.panel);
  list.replaceChildren(
    ...(view?.inFlight ?? []).map((f) => {
      const li = el('li', `flight ${f.kind}`);
      li.dataset.flight = f.flightId;
      li.dataset.id = f.message.id;
      const meta = el('div', 'meta');
      const clock = el('code', '', compact(f.message.clock));
      clock.title = full(f.message.clock);
      meta.append(
        el('span', '', `${f.from} #${f.message.seq}${f.kind === 'message' ? '' : ` · ${f.kind}`}`),
        clock,
      );
      const buttons = el('div', 'flight-actions');
      for (const [action, label] of ACTIONS) {
        const b = el('button', action, label);
        b.type = 'button';
        b.addEventListener('click', () => actOn(node.id, f.flightId, action).catch(report));
        buttons.append(b);
      }
      li.append(meta, el('div', 'text', f.message.text), buttons);
      return li;
    }),
  );
}

export async function refreshInbox(node) {
  setInbox(node, await api('GET', `/nodes/${node.id}/inbox`, undefined, { ask: false }));
}

/** Pause all, or resume all when every inbox is paused (the space bar). */
export async function toggleAll(paused) {
  const nodes = [...state.nodes.values()];
  const target = paused ?? !nodes.every((n) => n.inbox?.paused);
  await Promise.all(nodes.map((n) => pauseInbox(n.id, target)));
}

/** The same three choices as the tray, for a parked arrow clicked in the diagram. */
export function openFlightMenu(nodeId, flightId, x, y) {
  const menu = $('#flight-menu');
  const node = state.nodes.get(nodeId);
  const flight = node?.inbox?.inFlight.find((f) => f.flightId === flightId);
  if (!flight) return;
  $('.flight-menu-title', menu).textContent =
    `${flight.message.id} → ${nodeId}: “${flight.message.text.slice(0, 40)}”`;
  const buttons = $('.flight-menu-actions', menu);
  buttons.replaceChildren(
    ...ACTIONS.map(([action, label]) => {
      const b = el('button', action, label);
      b.type = 'button';
      b.addEventListener('click', () => {
        menu.hidden = true;
        actOn(nodeId, flightId, action).catch(report);
      });
      return b;
    }),
  );
  menu.style.left = `${x}px`;
  menu.style.top = `${y}px`;
  menu.hidden = false;
  buttons.firstElementChild.focus();
}

export function initInbox() {
  $('#pause-all').addEventListener('click', () => toggleAll(true).catch(report));
  $('#resume-all').addEventListener('click', () => toggleAll(false).catch(report));
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') $('#flight-menu').hidden = true;
    if (event.key !== ' ' || event.repeat) return;
    // Typing a message, or a focused control, keeps its space.
    if (event.target.closest?.('input, textarea, select, button, a')) return;
    event.preventDefault();
    toggleAll().catch(report);
  });
  $('#diagram').addEventListener('click', (event) => {
    const arrow = event.target.closest?.('.parked-hit');
    if (!arrow) return;
    openFlightMenu(arrow.dataset.node, arrow.dataset.flight, event.pageX, event.pageY);
  });
}
