/* Starts the page: panels, controls, and the refresh timers. */
import { api, askForToken } from './api.js';
import { drawLive, pageRun, refreshRun, setAxis, setMode } from './diagram.js';
import { $ } from './dom.js';
import { healAll, refreshLinks } from './network.js';
import { createPanel, paintSelection, refreshStates, removePanel } from './panel.js';
import { SCENARIOS } from './scenarios.js';
import { WINDOW_MS, state } from './state.js';
import { initInbox } from './inbox.js';
import { initReplay, replayFromHash, replayLatest } from './replay.js';
import { initClocks } from './time.js';
import { refreshVerdict, report } from './verdict.js';

/**
 * Panels, diagram lanes and the link matrix follow the membership: a node that is admitted
 * gets a panel (which fills with the history as it catches up), a retired one loses it.
 */
async function syncMembers() {
  const nodes = await api('GET', '/nodes', undefined, { ask: false });
  const ids = nodes.map((n) => n.id);
  for (const id of state.members) if (!ids.includes(id)) removePanel(id);
  const added = ids.filter((id) => !state.nodes.has(id));
  state.members = ids;
  for (const id of added) createPanel(id);
  if (added.length > 0) refreshLinks().catch(() => undefined);
}

/** "Add node" asks the launcher of npm start (through the gateway) to start one. */
async function addNode() {
  let k = state.members.length;
  while (state.members.includes(`n${k}`)) k++;
  const id = window.prompt('Id of the new node:', `n${k}`);
  if (!id || !id.trim()) return;
  await api('POST', '/cluster/nodes', { id: id.trim() });
  await syncMembers();
}

/** Panels for a recording's members (no cluster: no connections). */
function ensurePanels(members) {
  for (const id of members) if (!state.nodes.has(id)) createPanel(id, { offline: !state.live });
  if (!state.live) state.members = members;
}

/** The page with no cluster behind it: it can still open and replay a run file. */
function offline(error) {
  state.live = false;
  initReplay(ensurePanels);
  $('#recording-note').textContent =
    `No cluster answers here (${error.message}). Open a run file — "Open run", or drop it on the page — to replay it.`;
}

async function main() {
  try {
    await syncMembers();
  } catch (error) {
    return offline(error);
  }
  state.live = true;
  state.replayNow = () => replayLatest().catch(report);
  initReplay(ensurePanels);
  state.onMembership = () => syncMembers().catch(report);
  const config = await api('GET', '/ui-config').catch(() => ({ launcher: false }));
  $('#add-node').hidden = !config.launcher;
  $('#add-node').addEventListener('click', () => addNode().catch(report));
  $('#window-s').textContent = String(WINDOW_MS / 1000);
  $('#mode-live').addEventListener('click', () => setMode('live'));
  $('#mode-run').addEventListener('click', () => setMode('run'));
  $('#axis-node').addEventListener('click', () => setAxis(state.runAxis !== 'node'));
  initClocks(report);
  initInbox();
  for (const direction of ['earlier', 'later', 'newest'])
    $(`#run-${direction}`).addEventListener('click', () => pageRun(direction));
  $('#heal').addEventListener('click', () => healAll().catch(report));
  $('#verdict').addEventListener('click', async () => {
    if ($('#verdict').classList.contains('locked') && (await askForToken(false))) refreshVerdict();
  });
  $('#clear-selection').addEventListener('click', () => {
    state.selected = null;
    paintSelection();
  });
  $('#scenario').addEventListener('change', async (event) => {
    const name = event.target.value;
    event.target.value = '';
    if (SCENARIOS[name]) await SCENARIOS[name]().catch(report);
  });
  await Promise.all([refreshStates(), refreshLinks().catch(report), refreshVerdict()]);
  // A replay shows its own instant: the live panels catch up when it ends.
  setInterval(() => !state.replay && refreshStates().catch(report), 2000);
  setInterval(() => syncMembers().catch(() => undefined), 3000);
  setInterval(() => !state.replay && refreshLinks().catch(() => undefined), 3000);
  setInterval(refreshVerdict, 4000);
  setInterval(() => !state.replay && state.mode === 'live' && drawLive(), 250);
  setInterval(() => !state.replay && state.mode === 'run' && refreshRun().catch(report), 2000);
  replayFromHash().catch(report);
}

main().catch(report);
