/* Starts the page: panels, controls, and the refresh timers. */
import { api, askForToken } from './api.js';
import { drawLive, pageRun, refreshRun, setMode } from './diagram.js';
import { $ } from './dom.js';
import { healAll, refreshLinks } from './network.js';
import { createPanel, paintSelection, refreshStates } from './panel.js';
import { SCENARIOS } from './scenarios.js';
import { WINDOW_MS, state } from './state.js';
import { refreshVerdict, report } from './verdict.js';

async function main() {
  const nodes = await api('GET', '/nodes');
  state.members = nodes.map((n) => n.id);
  for (const id of state.members) createPanel(id);
  $('#window-s').textContent = String(WINDOW_MS / 1000);
  $('#mode-live').addEventListener('click', () => setMode('live'));
  $('#mode-run').addEventListener('click', () => setMode('run'));
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
  setInterval(() => refreshStates().catch(report), 2000);
  setInterval(() => refreshLinks().catch(() => undefined), 3000);
  setInterval(refreshVerdict, 4000);
  setInterval(() => state.mode === 'live' && drawLive(), 250);
  setInterval(() => state.mode === 'run' && refreshRun().catch(report), 2000);
}

main().catch(report);
