/*
 * Time travel: a run (the live cluster's, or a file) and an instant of it; every panel and
 * the diagram show what was true then. The panels' state at `t` is stateAt(events, t).
 */
import { compact, full, relation } from './clocks.js';
import { renderDiagram } from './diagram.js';
import { $, el } from './dom.js';
import { eventTimes, messageTable, Replayer } from './replay-state.js';
import { state } from './state.js';
import { report } from './verdict.js';

/** The window a live run covers when the slider is first moved, and narrower ones. */
const LIVE_WINDOWS_MS = [10 * 60_000, 60_000, 10_000];
/** The most events a replay holds: the widest recent window that fits (like the whole run's pages). */
export const REPLAY_MAX_EVENTS = 50_000;
const SHOWN = 80;

/** Loads the live cluster's recent run: ten minutes, or the last minute or ten seconds if busier. */
async function fetchRun() {
  const to = Date.now();
  let run;
  for (const window of LIVE_WINDOWS_MS) {
    const response = await fetch(
      `/cluster/run?from=${to - window}&to=${to}&limit=${REPLAY_MAX_EVENTS}`,
    );
    if (!response.ok) throw new Error(`the run could not be read (${response.status})`);
    run = await response.json();
    if (run.next === null) return run;
  }
  return run; // the last ten seconds were busier still: their first events
}

function checkRun(run) {
  if (run?.format !== 'causal-chat-run' || run.version !== 1 || !Array.isArray(run.events))
    throw new Error('not a run file (format causal-chat-run, version 1)');
  return run;
}

/** Starts replaying `run` at `t` (the end when not given). */
export function enterReplay(run, t, { recording = null } = {}) {
  checkRun(run);
  const events = run.events;
  const start = events[0]?.at ?? run.from;
  const end = events[events.length - 1]?.at ?? run.to;
  // When a message was sent, by its sender's clock: what "sent time" sorts by.
  const table = messageTable(events);
  for (const e of events)
    if (e.kind === 'send' && table.has(e.id)) table.get(e.id).sentLocal = e.local;
  state.replay = {
    run,
    table,
    times: eventTimes(events),
    start,
    end,
    t: t ?? end,
    playing: false,
    speed: Number($('#replay-speed').value) || 1,
    recording,
    replayer: new Replayer(events, run.members, table),
  };
  document.body.classList.add('replaying');
  document.body.classList.toggle('recording', recording !== null);
  $('#recording-note').textContent = recording
    ? `A recording: ${recording} — ${run.members.join(', ')}, ${events.length.toLocaleString()} events. No cluster is needed; the controls that change one are off.`
    : '';
  const slider = $('#time-slider');
  slider.min = String(start);
  slider.max = String(end);
  slider.dataset.events = String(events.length);
  setTime(state.replay.t);
}

export function exitReplay() {
  if (!state.replay || state.replay.recording) return;
  state.replay = null;
  document.body.classList.remove('replaying');
  for (const node of state.nodes.values()) node.panel.classList.remove('replay-paused');
  $('#replay-at').textContent = 'live';
  $('#time-slider').value = $('#time-slider').max;
  window.history.replaceState(null, '', window.location.pathname);
}

/** Moves the replay to `t` and renders everything from it. */
export function setTime(t) {
  const replay = state.replay;
  if (!replay) return;
  replay.t = Math.min(replay.end, Math.max(replay.start, t));
  $('#time-slider').value = String(replay.t);
  $('#replay-at').textContent =
    `${new Date(replay.t).toISOString().slice(11, 23)} (+${((replay.t - replay.start) / 1000).toFixed(3)} s)`;
  renderReplay();
  updateHash();
}

let hashTimer = null;

/** The address follows the view — at most four times a second, as a scrub moves on. */
function updateHash() {
  if (hashTimer !== null) return;
  hashTimer = setTimeout(writeHash, 250);
}

function writeHash() {
  hashTimer = null;
  const replay = state.replay;
  if (!replay) return;
  const sel = state.selected ? `&sel=${state.selected.id}` : '';
  // The live cluster's window moves on: its link names the window, so it finds the same run.
  const run = replay.recording ? '' : `&from=${replay.run.from}&to=${replay.run.to}`;
  window.history.replaceState(null, '', `#t=${Math.round(replay.t - replay.start)}${sel}${run}`);
}

/** The next or previous instant at which something happened. */
export function step(direction) {
  const replay = state.replay;
  if (!replay) return;
  const { times, t } = replay;
  let i = times.findIndex((time) => time > t);
  if (i < 0) i = times.length;
  const target = direction > 0 ? times[i] : times[Math.max(0, times[i - 1] === t ? i - 2 : i - 1)];
  if (target !== undefined) setTime(target);
}

function play() {
  const replay = state.replay;
  if (!replay) return;
  replay.playing = !replay.playing;
  $('#replay-play').textContent = replay.playing ? '⏸' : '▶';
  if (!replay.playing) return;
  if (replay.t >= replay.end) setTime(replay.start);
  let last = window.performance.now();
  const frame = (now) => {
    if (!state.replay?.playing) return;
    setTime(state.replay.t + (now - last) * state.replay.speed);
    last = now;
    if (state.replay.t >= state.replay.end) {
      state.replay.playing = false;
      $('#replay-play').textContent = '▶';
      return;
    }
    window.requestAnimationFrame(frame);
  };
  window.requestAnimationFrame(frame);
}

/** The orders of a replayed panel, as pure functions of the node's state. */
function ordered(view, order) {
  const delivered = view.delivered;
  if (order === 'sent')
    return [...delivered].sort(
      (a, b) => (a.sentLocal ?? 0) - (b.sentLocal ?? 0) || a.index - b.index,
    );
  if (order === 'hlc')
    return [...delivered].sort(
      (a, b) =>
        (a.hlc?.wallMs ?? 0) - (b.hlc?.wallMs ?? 0) ||
        (a.hlc?.logical ?? 0) - (b.hlc?.logical ?? 0) ||
        a.index - b.index,
    );
  if (order === 'arrived' || order === 'fifo') {
    // As the messages reached the node, before the causal buffer; FIFO: each sender's in seq order.
    const byId = new Map(delivered.map((d) => [d.id, d]));
    const arrived = view.arrived.filter((id) => byId.has(id)).map((id) => byId.get(id));
    if (order === 'arrived') return arrived;
    const queues = new Map();
    for (const m of arrived) queues.set(m.sender, [...(queues.get(m.sender) ?? []), m]);
    for (const q of queues.values()) q.sort((a, b) => a.seq - b.seq);
    return arrived.map((m) => queues.get(m.sender).shift());
  }
  return delivered;
}

function replayItem(message) {
  const li = el('li', message.member ? 'member-entry' : '');
  li.dataset.id = message.id;
  li.dataset.clock = JSON.stringify(message.clock ?? {});
  const meta = el('div', 'meta');
  const clock = el('code', '', compact(message.clock ?? {}));
  clock.title = full(message.clock ?? {});
  meta.append(el('span', '', `${message.sender} #${message.seq}`), clock);
  li.append(meta, el('div', 'text', message.text ?? ''));
  li.addEventListener('click', () => {
    state.selected = state.selected?.id === message.id ? null : message;
    renderReplay();
    updateHash();
  });
  return li;
}

/** Every panel and the diagram at the replay's instant. */
export function renderReplay() {
  const replay = state.replay;
  if (!replay) return;
  const views = replay.replayer.at(replay.t);
  for (const [id, node] of state.nodes) {
    const view = views.get(id) ?? {
      delivered: [],
      held: [],
      clock: {},
      arrived: [],
      paused: false,
    };
    const items = ordered(view, node.order).slice(-SHOWN).map(replayItem);
    const clocks = items.map((li) => JSON.parse(li.dataset.clock));
    items.forEach((li, i) => {
      if (state.selected) li.classList.add(relation(clocks[i], state.selected.clock));
      if (node.order === 'delivered') return;
      for (let j = i + 1; j < items.length; j++)
        if (relation(clocks[j], clocks[i]) === 'before') {
          li.classList.add('before-cause');
          li.append(el('div', 'cause-mark', `shown before its cause ${items[j].dataset.id}`));
          break;
        }
    });
    $('.replay-messages', node.panel).replaceChildren(...items);
    $('.replay-held', node.panel).replaceChildren(
      ...view.held.map(({ message, waitingFor }) => {
        const li = el('li');
        const meta = el('div', 'meta');
        meta.append(
          el('span', '', `${message.sender} #${message.seq} — held back`),
          el('code', '', compact(message.clock ?? {})),
        );
        const waits = waitingFor.map((w) => `${w.node} #${w.seq}`).join(', ');
        li.append(
          meta,
          el('div', 'text', message.text ?? ''),
          el('div', 'waiting', `waiting for ${waits}`),
        );
        return li;
      }),
    );
    const code = $('.clock', node.panel);
    code.textContent = compact(view.clock);
    code.title = full(view.clock);
    node.panel.classList.toggle('replay-paused', view.paused);
  }
  drawReplay(replay);
}

/** The diagram's events of a run, once: sends, deliveries, and hold-backs (received before delivered). */
function diagramEvents(events) {
  const out = [];
  const deliveredAt = new Map();
  for (const e of events) if (e.kind === 'deliver') deliveredAt.set(`${e.node}/${e.id}`, e.at);
  for (const e of events) {
    if (e.kind === 'send') out.push({ kind: 'send', node: e.node, id: e.id, t: e.at });
    else if (e.kind === 'deliver')
      out.push({ kind: 'deliver', node: e.node, id: e.id, sender: e.sender, t: e.at });
    else if (e.kind === 'receive') {
      const delivered = deliveredAt.get(`${e.node}/${e.id}`);
      if (delivered === undefined || delivered > e.at)
        out.push({ kind: 'hold', node: e.node, id: e.id, t: e.at });
    }
  }
  return out;
}

/** Events drawn at once: a window around the cursor, as the whole-run view pages. */
const DRAWN = 900;

/** The run around `t` with a cursor at it and the future dimmed. */
function drawReplay(replay) {
  replay.diagram ??= diagramEvents(replay.run.events);
  const all = replay.diagram;
  let lo = 0;
  let hi = all.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (all[mid].t <= replay.t) lo = mid + 1;
    else hi = mid;
  }
  const slice = all.slice(Math.max(0, lo - (DRAWN * 2) / 3), lo + DRAWN / 3);
  const from = Math.min(slice[0]?.t ?? replay.start, replay.t);
  const to = Math.max(slice[slice.length - 1]?.t ?? replay.end, replay.t);
  const svg = $('#diagram');
  const width = svg.parentElement.clientWidth || 800;
  svg.style.width = `${width}px`;
  const span = Math.max(1, to - from);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => [
    from + f * span,
    `+${((from + f * span - replay.start) / 1000).toFixed(1)} s`,
  ]);
  renderDiagram(slice, from - span * 0.01, to + span * 0.01, width, ticks, replay.t);
  $('#diagram-note').textContent =
    `Replay: ${replay.recording ?? 'the live cluster’s recent run'} — the cursor is the instant every panel shows` +
    (slice.length < all.length ? ` (the ${slice.length.toLocaleString()} events around it)` : '') +
    '.';
}

async function download() {
  const run = state.replay?.run ?? (await fetchRun());
  const blob = new window.Blob([JSON.stringify(run)], { type: 'application/json' });
  const a = el('a');
  a.href = URL.createObjectURL(blob);
  a.download = `run-${new Date(run.to).toISOString().replace(/[:.]/g, '-')}.json`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

/** Opens a run file: the page replays it with no cluster. */
export async function openRun(file, ensurePanels) {
  const run = checkRun(JSON.parse(await file.text()));
  ensurePanels(run.members);
  const hash = new window.URLSearchParams(window.location.hash.slice(1));
  const start = run.events[0]?.at ?? run.from;
  const t = hash.has('t') ? start + Number(hash.get('t')) : undefined;
  enterReplay(run, t, { recording: file.name });
  select(hash.get('sel'));
}

/** Selects a message of the run by id (a link's `sel`), as a click would. */
function select(id) {
  const message = id && state.replay?.table.get(id);
  if (message) {
    state.selected = message;
    renderReplay();
    updateHash();
  }
}

/** The live cluster's run at its newest instant (an arrival order chosen on the live page). */
export async function replayLatest() {
  enterReplay(await fetchRun());
}

/** A `#t=…&sel=…` link to the live cluster's run: replay it there. */
export async function replayFromHash() {
  const hash = new window.URLSearchParams(window.location.hash.slice(1));
  if (!hash.has('t') || state.replay) return;
  let run;
  if (hash.has('from') && hash.has('to')) {
    const response = await fetch(
      `/cluster/run?from=${hash.get('from')}&to=${hash.get('to')}&limit=${REPLAY_MAX_EVENTS}`,
    );
    if (!response.ok)
      throw new Error(`the run of that link could not be read (${response.status})`);
    run = await response.json();
  } else run = await fetchRun();
  const start = run.events[0]?.at ?? run.from;
  enterReplay(run, start + Number(hash.get('t')));
  select(hash.get('sel'));
}

export function initReplay(ensurePanels) {
  const slider = $('#time-slider');
  slider.max = String(Date.now());
  slider.min = String(Date.now() - LIVE_WINDOWS_MS[0]);
  slider.value = slider.max;
  let loading = null;
  slider.addEventListener('input', () => {
    if (state.replay) return setTime(Number(slider.value));
    const wanted = Number(slider.value);
    loading ??= fetchRun()
      .then((run) => enterReplay(run, wanted))
      .catch(report)
      .finally(() => (loading = null));
  });
  slider.addEventListener('keydown', (event) => {
    if (!state.replay || (event.key !== 'ArrowLeft' && event.key !== 'ArrowRight')) return;
    event.preventDefault();
    step(event.key === 'ArrowRight' ? 1 : -1);
  });
  $('#replay-play').addEventListener('click', () => {
    if (state.replay) return play();
    fetchRun()
      .then((run) => {
        enterReplay(run, run.events[0]?.at);
        play();
      })
      .catch(report);
  });
  $('#replay-speed').addEventListener('change', (event) => {
    if (state.replay) state.replay.speed = Number(event.target.value);
  });
  $('#replay-live').addEventListener('click', exitReplay);
  $('#download-run').addEventListener('click', () => download().catch(report));
  $('#open-run').addEventListener('change', (event) => {
    const file = event.target.files?.[0];
    if (file) openRun(file, ensurePanels).catch(report);
  });
  document.addEventListener('dragover', (event) => event.preventDefault());
  document.addEventListener('drop', (event) => {
    const file = event.dataTransfer?.files?.[0];
    if (!file) return;
    event.preventDefault();
    openRun(file, ensurePanels).catch(report);
  });
}
