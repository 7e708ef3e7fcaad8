/* The simulated links: their controls, partitions and healing. */
import { api } from './api.js';
import { $, el } from './dom.js';
import { setUp } from './panel.js';
import { state } from './state.js';
import { report } from './verdict.js';

const FIELDS = [
  ['delayMs', 'delay ms', 1],
  ['jitterMs', 'jitter ms', 1],
  ['dropRate', 'drop rate', 0.05],
  ['duplicateRate', 'dup rate', 0.05],
];

export async function refreshLinks() {
  if (document.activeElement && document.activeElement.closest('.links')) return;
  const { links } = await api('GET', '/network');
  const container = $('#links');
  container.replaceChildren();
  const cut = new Map(state.members.map((id) => [id, true]));
  for (const link of links) {
    const box = el('div', `link${link.partitioned ? ' cut' : ''}`);
    box.append(el('h3', '', `${link.from} → ${link.to}`));
    for (const [field, label, step] of FIELDS) {
      const input = el('input');
      input.type = 'number';
      input.min = '0';
      input.step = String(step);
      input.value = String(link[field]);
      input.setAttribute('aria-label', `${label} ${link.from} to ${link.to}`);
      input.addEventListener('change', () =>
        setLink(link.from, link.to, { [field]: Number(input.value) }),
      );
      box.append(el('label', '', label), input);
    }
    const toggle = el('input');
    toggle.type = 'checkbox';
    toggle.checked = link.partitioned;
    toggle.setAttribute('aria-label', `cut ${link.from} to ${link.to}`);
    toggle.addEventListener('change', () =>
      setLink(link.from, link.to, { partitioned: toggle.checked }),
    );
    box.append(el('label', '', 'cut'), toggle);
    container.append(box);
    if (!link.partitioned) {
      cut.set(link.from, false);
      cut.set(link.to, false);
    }
  }
  for (const [id, isCut] of cut) {
    const node = state.nodes.get(id);
    if (!node) continue;
    node.partitioned = isCut && state.members.length > 1;
    $('.partition', node.panel).textContent = node.partitioned ? 'Heal' : 'Partition';
    setUp(node, node.up);
  }
}

function setLink(from, to, settings) {
  return api('PUT', `/network/links/${from}/${to}`, settings).then(refreshLinks).catch(report);
}

export async function partition(id, partitioned) {
  await Promise.all(
    state.members
      .filter((other) => other !== id)
      .flatMap((other) => [
        api('PUT', `/network/links/${id}/${other}`, { partitioned }),
        api('PUT', `/network/links/${other}/${id}`, { partitioned }),
      ]),
  );
  await refreshLinks();
}

export async function healAll() {
  await api('DELETE', '/network');
  await refreshLinks();
}
