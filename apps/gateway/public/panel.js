/* One panel per node: its messages, held-back list, clock, counters and live events. */
import { api } from './api.js';
import { compact, full, relation } from './clocks.js';
import { $, el } from './dom.js';
import { partition } from './network.js';
import { state } from './state.js';
import { pauseInbox, refreshInbox, setInbox } from './inbox.js';
import { renderReplay } from './replay.js';
import { renderClockMatrix, setTime } from './time.js';
import { report } from './verdict.js';

/**
 * Messages a panel keeps in the page while it follows the newest: a panel's work must not
 * grow with the history. Scrolling to its top loads PAGE_BACK older ones at a time.
 */
const PANEL_WINDOW = 200;
const PAGE_BACK = 100;

function messageItem(message) {
  // A membership entry ("n3 joined") sits in the history like any message, marked as such.
  const li = el('li', message.member ? 'member-entry' : '');
  li.tabIndex = 0;
  li.dataset.id = message.id;
  li.dataset.index = String(message.index);
  li.dataset.clock = JSON.stringify(message.clock);
  li.dataset.sent = String(Date.parse(message.sentAt));
  // Sortable as one number: wall ms then the counter (below a million per ms).
  if (message.hlc) li.dataset.hlc = String(message.hlc.wallMs * 1e6 + message.hlc.logical);
  const meta = el('div', 'meta');
  meta.append(
    el(
      'span',
      '',
      `${message.sender}${message.author ? ` · ${message.author}` : ''} #${message.seq}`,
    ),
  );
  const clock = el('code', '', compact(message.clock));
  clock.title = full(message.clock);
  const sent = el('time', 'sent', message.sentAt.slice(11, 23));
  sent.dateTime = message.sentAt;
  sent.title = `sent at ${message.sentAt} by ${message.sender}'s clock${
    message.hlc ? `; HLC ${message.hlc.wallMs}.${message.hlc.logical}` : ''
  }`;
  meta.append(sent, clock);
  li.append(meta, el('div', 'text', message.text));
  li.addEventListener('click', () => select(message));
  li.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      select(message);
    }
  });
  return li;
}

function select(message) {
  state.selected = state.selected && state.selected.id === message.id ? null : message;
  paintSelection();
}

export function paintSelection() {
  $('#legend').hidden = !state.selected;
  for (const li of document.querySelectorAll('.messages li')) {
    li.classList.remove('sel', 'before', 'after', 'conc');
    if (state.selected)
      li.classList.add(relation(JSON.parse(li.dataset.clock), state.selected.clock));
  }
}

function renderHeld(node) {
  const list = $('.held', node.panel);
  list.replaceChildren();
  for (const { message, waitingFor } of node.held.values()) {
    const li = el('li');
    const meta = el('div', 'meta');
    meta.append(
      el('span', '', `${message.sender} #${message.seq} — held back`),
      el('code', '', compact(message.clock)),
    );
    const waits = waitingFor.map((w) => `${w.node} #${w.seq}`).join(', ');
    li.append(meta, el('div', 'text', message.text), el('div', 'waiting', `waiting for ${waits}`));
    list.append(li);
  }
}

function renderClock(node, clock) {
  if (state.replay) return; // the replay shows the clock of its instant
  const code = $('.clock', node.panel);
  code.textContent = compact(clock);
  code.title = full(clock);
}

function deliver(node, message, live) {
  if (message.index <= node.lastIndex) return;
  node.lastIndex = message.index;
  const li = messageItem(message);
  if (live) li.classList.add('fresh');
  if (state.selected) li.classList.add(relation(message.clock, state.selected.clock));
  const list = $('.messages', node.panel);
  list.append(li);
  if (node.following) {
    while (list.childElementCount > PANEL_WINDOW) list.firstElementChild.remove();
    followNewest(node, list);
  }
  if (node.held.delete(message.id)) renderHeld(node);
  if (node.order !== 'delivered') scheduleOrder(node);
  if (live) {
    const now = Date.now();
    if (message.sender === node.id)
      state.trace.push({ kind: 'send', node: node.id, id: message.id, t: now });
    state.trace.push({
      kind: 'deliver',
      node: node.id,
      id: message.id,
      sender: message.sender,
      t: now,
    });
  }
}

const ORDER_KEYS = {
  delivered: (li) => Number(li.dataset.index),
  sent: (li) => Number(li.dataset.sent),
  hlc: (li) => Number(li.dataset.hlc ?? li.dataset.sent * 1e6),
};

/** Re-sorts a panel's messages once per frame, however many arrived in it. */
function scheduleOrder(node) {
  if (node.orderPending) return;
  node.orderPending = true;
  window.requestAnimationFrame(() => {
    node.orderPending = false;
    applyOrder(node);
  });
}

/**
 * Puts a panel's messages in its chosen order (a pure function of what it shows). In any
 * order but delivery order, a message shown above something it causally depends on is
 * marked: that is what ordering by timestamps gets wrong when clocks are.
 */
export function applyOrder(node) {
  const list = $('.messages', node.panel);
  const key = ORDER_KEYS[node.order] ?? ORDER_KEYS.delivered;
  const items = [...list.children].sort(
    (a, b) => key(a) - key(b) || Number(a.dataset.index) - Number(b.dataset.index),
  );
  list.append(...items);
  const clocks = items.map((li) => JSON.parse(li.dataset.clock));
  items.forEach((li, i) => {
    li.querySelector('.cause-mark')?.remove();
    li.classList.remove('before-cause');
    if (node.order === 'delivered') return;
    for (let j = i + 1; j < items.length; j++) {
      if (relation(clocks[j], clocks[i]) !== 'before') continue;
      li.classList.add('before-cause');
      li.append(el('div', 'cause-mark', `shown before its cause ${items[j].dataset.id}`));
      break;
    }
  });
  if (node.following) followNewest(node, list);
}

/** Scrolls to the newest once per frame, however many messages arrived in it (no layout per message). */
function followNewest(node, list) {
  if (node.scrollPending) return;
  node.scrollPending = true;
  window.requestAnimationFrame(() => {
    node.scrollPending = false;
    if (node.following) list.scrollTop = list.scrollHeight;
  });
}

/** The PAGE_BACK messages before the oldest one shown, put above it where the reader is. */
async function loadOlder(node) {
  const list = $('.messages', node.panel);
  const oldest = Number(list.firstElementChild?.dataset.index ?? 0);
  if (node.loadingOlder || oldest <= 1) return;
  node.loadingOlder = true;
  try {
    const after = Math.max(0, oldest - 1 - PAGE_BACK);
    const page = await api(
      'GET',
      `/nodes/${node.id}/messages?after=${after}&limit=${oldest - 1 - after}`,
    );
    const height = list.scrollHeight;
    const items = page.messages
      .filter((message) => message.index < oldest)
      .map((message) => {
        const li = messageItem(message);
        if (state.selected) li.classList.add(relation(message.clock, state.selected.clock));
        return li;
      });
    list.prepend(...items);
    list.scrollTop += list.scrollHeight - height;
  } finally {
    node.loadingOlder = false;
  }
}

// Live events that arrive while history is loading wait for it: delivered first, a later
// message would move node.lastIndex past the history still on its way, which deliver()
// would then drop as already shown.
async function loadHistory(node, upTo) {
  if (node.loading) return; // the load under way shows these too, or the next refresh does
  node.loading = true;
  try {
    let after = node.lastIndex;
    if (upTo - after > PANEL_WINDOW && node.following) {
      // Far behind (a page opened on a long history): the newest window; older on scroll.
      $('.messages', node.panel).replaceChildren();
      after = upTo - PANEL_WINDOW;
      node.lastIndex = after;
    }
    while (after < upTo) {
      const page = await api('GET', `/nodes/${node.id}/messages?after=${after}&limit=500`);
      for (const message of page.messages) deliver(node, message, false);
      if (page.messages.length === 0) break;
      after = page.messages[page.messages.length - 1].index;
    }
  } finally {
    node.loading = false;
    const waiting = node.waitingLive.sort((a, b) => a.index - b.index);
    node.waitingLive = [];
    for (const message of waiting) deliver(node, message, true);
  }
}

function onLive(node, message) {
  if (node.loading) {
    node.waitingLive.push(message);
  } else if (message.index > node.lastIndex + 1) {
    // A gap: announcements lost on the way (the gateway reconnecting to a restarted node,
    // say). The node's log has them: fetch the gap first, this message waits for it.
    node.waitingLive.push(message);
    loadHistory(node, message.index - 1).catch(report);
  } else {
    deliver(node, message, true);
  }
}

/** A panel for node `id`; `offline` (a recording, no cluster): no live connection. */
export function createPanel(id, { offline = false } = {}) {
  const panel = $('#panel-template').content.firstElementChild.cloneNode(true);
  $('.node-name', panel).textContent = id;
  // ShiViz needs every member's events: one node's log names hosts it has no events of.
  $('.shiviz', panel).href = '/cluster/log?format=shiviz&limit=all';
  $('.shiviz', panel).download = 'cluster.shiviz.log';
  const node = {
    id,
    panel,
    lastIndex: 0,
    held: new Map(),
    up: true,
    partitioned: false,
    loading: false,
    waitingLive: [],
    /** At the newest message: new ones scroll into view, and the window is kept. */
    following: true,
    scrollPending: false,
    loadingOlder: false,
    order: 'delivered',
    orderPending: false,
  };
  $('.order', panel).addEventListener('change', (event) => {
    node.order = event.target.value;
    // Arrival orders come from the run: live, they replay it at its newest instant.
    if (state.replay) renderReplay();
    else if (node.order === 'arrived' || node.order === 'fifo') state.replayNow?.();
    else applyOrder(node);
  });
  const list = $('.messages', panel);
  list.addEventListener('scroll', () => {
    node.following = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    if (list.scrollTop < 40) loadOlder(node).catch(report);
  });
  $('.composer', panel).addEventListener('submit', (event) => {
    event.preventDefault();
    const input = $('input', panel);
    const text = input.value;
    if (!text.trim()) return;
    node.socket.emit('send', { text }, (reply) => {
      if (reply && reply.error) {
        input.setCustomValidity(reply.error.message);
        input.reportValidity();
        setTimeout(() => input.setCustomValidity(''), 3000);
      } else input.value = '';
    });
  });
  $('.partition', panel).addEventListener('click', () =>
    partition(id, !node.partitioned).catch(report),
  );
  $('.pause', panel).addEventListener('click', () =>
    pauseInbox(id, !node.inbox?.paused).catch(report),
  );
  $('.retire', panel).addEventListener('click', async () => {
    if (!window.confirm(`Retire ${id} for good? Its messages stay; the node stops.`)) return;
    await api('DELETE', `/cluster/members/${id}`).catch(report);
  });
  state.nodes.set(id, node);
  $('#panels').append(panel);
  if (offline) return;
  const socket = io(`/nodes/${id}`, { transports: ['websocket'] });
  node.socket = socket;
  socket.on('hello', async (hello) => {
    setUp(node, hello.up);
    if (hello.clock) renderClock(node, hello.clock);
    for (const held of hello.buffered || []) node.held.set(held.message.id, held);
    renderHeld(node);
    if (hello.up) refreshInbox(node).catch(() => undefined);
    if (hello.lastIndex) await loadHistory(node, hello.lastIndex).catch(report);
  });
  socket.on('inbox', (view) => setInbox(node, view));
  socket.on('deliveries', (batch) => {
    for (const message of batch.messages) onLive(node, message);
    renderClock(node, batch.clock);
  });
  socket.on('buffered', (held) => {
    node.held.set(held.message.id, held);
    const t = Date.now();
    state.trace.push({ kind: 'hold', node: id, id: held.message.id, t });
    if (state.holds.size < 10_000) state.holds.set(`${id}/${held.message.id}`, t);
    renderHeld(node);
  });
  socket.on('clock', (event) => renderClock(node, event.clock));
  socket.on('membership', () => state.onMembership?.());
  socket.on('retired', () => removePanel(id));
  socket.on('connect_error', (error) => report(error));
}

/** A retired node's panel goes, with its socket; its messages stay in the others. */
export function removePanel(id) {
  const node = state.nodes.get(id);
  if (!node) return;
  node.socket?.close();
  node.panel.remove();
  state.nodes.delete(id);
  state.members = state.members.filter((member) => member !== id);
}

export function setUp(node, up) {
  node.up = up;
  node.panel.classList.toggle('down', !up);
  $('.status', node.panel).textContent = up ? (node.partitioned ? 'partitioned' : 'up') : 'down';
}

export async function refreshStates() {
  for (const node of state.nodes.values()) {
    try {
      const s = await api('GET', `/nodes/${node.id}/state`);
      const c = s.counters;
      $('.counters', node.panel).textContent =
        `delivered ${c.delivered} · held back ${s.buffered.length} · duplicates dropped ${c.duplicatesDropped} · retransmissions ${c.retransmissions}`;
      renderClock(node, s.clock);
      if (s.time) setTime(node, s.time);
      // A snapshot older than what the live events have shown would bring back a message
      // they have since delivered as "held back".
      if (s.lastIndex >= node.lastIndex) {
        node.held = new Map(s.buffered.map((h) => [h.message.id, h]));
        renderHeld(node);
      }
      if (s.lastIndex > node.lastIndex) await loadHistory(node, s.lastIndex);
      setUp(node, true);
    } catch {
      setUp(node, false);
    }
  }
  renderClockMatrix();
}
