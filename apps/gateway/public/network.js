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

/** The link being edited (`from>to`), kept across refreshes. */
let editing = null;

/** A cell's short text: what is unusual about the link, at a glance. */
function summary(link) {
  if (link.partitioned) return '✂ cut';
  const parts = [];
  if (link.delayMs || link.jitterMs) parts.push(`${link.delayMs}±${link.jitterMs}ms`);
  if (link.dropRate) parts.push(`drop ${Math.round(link.dropRate * 100)}%`);
  if (link.duplicateRate) parts.push(`dup ${Math.round(link.duplicateRate * 100)}%`);
  return parts.join(' · ') || 'ok';
}

/**
 * The links as a from × to matrix: a row per sending node, a column per receiving node;
 * a cell shows the link's state and opens its settings below the table. Five nodes are 20
 * links: a matrix fits a projector where cards did not.
 */
export async function refreshLinks() {
  if (document.activeElement && document.activeElement.closest('.links, .link-editor')) return;
  const { links } = await api('GET', '/network');
  const byPair = new Map(links.map((link) => [`${link.from}>${link.to}`, link]));
  const table = el('table', 'link-matrix');
  const head = el('tr');
  head.append(el('th', 'corner', 'from ↓ to →'));
  for (const to of state.members) head.append(el('th', '', to));
  table.append(head);
  const cut = new Map(state.members.map((id) => [id, true]));
  for (const from of state.members) {
    const row = el('tr');
    row.append(el('th', '', from));
    for (const to of state.members) {
      const cell = el('td');
      const link = byPair.get(`${from}>${to}`);
      if (from === to || !link) {
        cell.className = 'self';
        row.append(cell);
        continue;
      }
      const lossy = link.dropRate > 0 || link.duplicateRate > 0;
      const button = el(
        'button',
        `link${link.partitioned ? ' cut' : lossy ? ' lossy' : link.delayMs + link.jitterMs > 200 ? ' slow' : ''}`,
        summary(link),
      );
      button.type = 'button';
      button.setAttribute('aria-label', `link ${from} to ${to}: ${summary(link)}`);
      if (editing === `${from}>${to}`) button.classList.add('editing');
      button.addEventListener('click', () => {
        editing = editing === `${from}>${to}` ? null : `${from}>${to}`;
        renderEditor(byPair.get(editing));
        refreshLinks().catch(report);
      });
      cell.append(button);
      row.append(cell);
      if (!link.partitioned) {
        cut.set(from, false);
        cut.set(to, false);
      }
    }
    table.append(row);
  }
  $('#links').replaceChildren(table);
  renderEditor(editing ? byPair.get(editing) : undefined);
  for (const [id, isCut] of cut) {
    const node = state.nodes.get(id);
    if (!node) continue;
    node.partitioned = isCut && state.members.length > 1;
    $('.partition', node.panel).textContent = node.partitioned ? 'Heal' : 'Partition';
    setUp(node, node.up);
  }
}

/** The settings of one link, under the matrix. */
function renderEditor(link) {
  const form = $('#link-editor');
  form.hidden = !link;
  if (!link) return form.replaceChildren();
  form.replaceChildren(el('h3', '', `${link.from} → ${link.to}`));
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
    form.append(el('label', '', label), input);
  }
  const toggle = el('input');
  toggle.type = 'checkbox';
  toggle.checked = link.partitioned;
  toggle.setAttribute('aria-label', `cut ${link.from} to ${link.to}`);
  toggle.addEventListener('change', () =>
    setLink(link.from, link.to, { partitioned: toggle.checked }),
  );
  form.append(el('label', '', 'cut'), toggle);
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
