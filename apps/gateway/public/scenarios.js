/* Scripted scenarios a teacher can play. */
import { api } from './api.js';
import { $ } from './dom.js';
import { refreshLinks } from './network.js';
import { pauseInbox } from './inbox.js';
import { applyOrder } from './panel.js';
import { state } from './state.js';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const send = (id, text) =>
  new Promise((resolve, reject) =>
    state.nodes
      .get(id)
      .socket.emit('send', { text }, (reply) =>
        reply && reply.error ? reject(new Error(reply.error.message)) : resolve(reply),
      ),
  );

async function deliveredAt(id, messageId, ms = 15_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (
      [...document.querySelectorAll(`.messages li`)].some(
        (li) => li.dataset.id === messageId && state.nodes.get(id).panel.contains(li),
      )
    )
      return;
    await sleep(50);
  }
}

export const SCENARIOS = {
  async simple() {
    const [a, b, c] = state.members;
    const hello = await send(a, 'Hello');
    await deliveredAt(b, hello.id);
    const hi = await send(b, 'Hi');
    if (!c) return;
    await deliveredAt(c, hi.id);
    await send(c, 'Hey both!');
  },
  async concurrent() {
    const [a, b] = state.members;
    await Promise.all([send(a, 'First'), b ? send(b, 'Also first') : null]);
  },
  async race() {
    const [a, b, c] = state.members;
    if (!c) throw new Error('this scenario needs three nodes');
    await api('PUT', `/network/links/${a}/${c}`, { delayMs: 4000, jitterMs: 0 });
    await refreshLinks();
    const question = await send(a, 'Who wants lunch?');
    await deliveredAt(b, question.id);
    await send(b, 'Me! (a reply that reaches ' + c + ' before its cause)');
    await sleep(6000);
    await api('PUT', `/network/links/${a}/${c}`, { delayMs: 30, jitterMs: 120 });
    await refreshLinks();
  },
  /**
   * The race, by hand: n2's inbox paused, n0 asks, n1 answers; both wait in n2's tray for
   * the person to deliver them, in either order.
   */
  async 'race-by-hand'() {
    const [a, b, c] = state.members;
    if (!c) throw new Error('this scenario needs three nodes');
    await pauseInbox(c, true);
    const question = await send(a, 'Who wants lunch?');
    await deliveredAt(b, question.id);
    await send(b, `Me! (deliver me at ${c} before the question, and see me wait)`);
  },
  /**
   * n2's clock 5 s slow; n0 asks, n2 answers after seeing the question. Sorted by sent time
   * the answer comes first at every node (marked); delivered order and the HLC get it right.
   */
  async skew() {
    const [a, , c] = state.members;
    if (!c) throw new Error('this scenario needs three nodes');
    await api('PUT', '/clocks/sync', { mode: 'off' });
    await api('PUT', `/clocks/${c}`, { offsetMs: -5000, driftPpm: 0 });
    const question = await send(a, 'What time is it?');
    await deliveredAt(c, question.id);
    const answer = await send(c, `Time to sort by HLC (${c}'s clock is 5 s slow)`);
    await Promise.all(state.members.map((id) => deliveredAt(id, answer.id)));
    for (const node of state.nodes.values()) {
      node.order = 'sent';
      $('.order', node.panel).value = 'sent';
      applyOrder(node);
    }
  },
  /** Berkeley's algorithm: the clocks converge within the error bounds, never exactly. */
  async sync() {
    await api('PUT', '/clocks/sync', { mode: 'berkeley' });
  },
};
