/* Causal chat UI: one panel per node, live over Socket.IO; everything else over REST. */
'use strict';
(() => {
  const WINDOW_MS = 30_000;
  const state = { members: [], nodes: new Map(), selected: null, trace: [], sentAt: new Map() };
  const $ = (selector, root = document) => root.querySelector(selector);

  async function api(method, path, body) {
    const response = await fetch(path, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const data = await response.json().catch(() => null);
    if (!response.ok)
      throw new Error(
        data && data.message ? [].concat(data.message).join('; ') : response.statusText,
      );
    return data;
  }

  const compact = (clock) => `[${state.members.map((id) => clock[id] ?? 0).join(',')}]`;
  const full = (clock) => state.members.map((id) => `${id}: ${clock[id] ?? 0}`).join(', ');

  /** How clock a relates to clock b: before, after, equal or concurrent. */
  function relation(a, b) {
    let less = false;
    let more = false;
    for (const id of state.members) {
      if ((a[id] ?? 0) < (b[id] ?? 0)) less = true;
      if ((a[id] ?? 0) > (b[id] ?? 0)) more = true;
    }
    if (less && more) return 'conc';
    if (less) return 'before';
    if (more) return 'after';
    return 'sel';
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text; // user text is only ever text
    return node;
  }

  function messageItem(message) {
    const li = el('li');
    li.tabIndex = 0;
    li.dataset.id = message.id;
    li.dataset.clock = JSON.stringify(message.clock);
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
    meta.append(clock);
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

  function paintSelection() {
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
      li.append(
        meta,
        el('div', 'text', message.text),
        el('div', 'waiting', `waiting for ${waits}`),
      );
      list.append(li);
    }
  }

  function renderClock(node, clock) {
    const code = $('.clock', node.panel);
    code.textContent = compact(clock);
    code.title = full(clock);
  }

  function deliver(node, message, live) {
    if (message.index <= node.lastIndex) return;
    node.lastIndex = message.index;
    node.held.delete(message.id);
    const li = messageItem(message);
    if (live) li.classList.add('fresh');
    if (state.selected) li.classList.add(relation(message.clock, state.selected.clock));
    const list = $('.messages', node.panel);
    list.append(li);
    list.scrollTop = list.scrollHeight;
    renderHeld(node);
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

  async function loadHistory(node, upTo) {
    let after = node.lastIndex;
    while (after < upTo) {
      const page = await api('GET', `/nodes/${node.id}/messages?after=${after}&limit=500`);
      for (const message of page.messages) deliver(node, message, false);
      if (page.messages.length === 0) break;
      after = page.messages[page.messages.length - 1].index;
    }
  }

  function createPanel(id) {
    const panel = $('#panel-template').content.firstElementChild.cloneNode(true);
    $('.node-name', panel).textContent = id;
    $('.shiviz', panel).href = `/nodes/${id}/log?format=shiviz`;
    $('.shiviz', panel).download = `${id}.shiviz.log`;
    const node = { id, panel, lastIndex: 0, held: new Map(), up: true, partitioned: false };
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
    const socket = io(`/nodes/${id}`, { transports: ['websocket'] });
    node.socket = socket;
    socket.on('hello', async (hello) => {
      setUp(node, hello.up);
      if (hello.clock) renderClock(node, hello.clock);
      for (const held of hello.buffered || []) node.held.set(held.message.id, held);
      renderHeld(node);
      if (hello.lastIndex) await loadHistory(node, hello.lastIndex).catch(report);
    });
    socket.on('delivered', (message) => deliver(node, message, true));
    socket.on('buffered', (held) => {
      node.held.set(held.message.id, held);
      state.trace.push({ kind: 'hold', node: id, id: held.message.id, t: Date.now() });
      renderHeld(node);
    });
    socket.on('clock', (event) => renderClock(node, event.clock));
    socket.on('connect_error', (error) => report(error));
    state.nodes.set(id, node);
    $('#panels').append(panel);
  }

  function setUp(node, up) {
    node.up = up;
    node.panel.classList.toggle('down', !up);
    $('.status', node.panel).textContent = up ? (node.partitioned ? 'partitioned' : 'up') : 'down';
  }

  async function refreshStates() {
    for (const node of state.nodes.values()) {
      try {
        const s = await api('GET', `/nodes/${node.id}/state`);
        const c = s.counters;
        $('.counters', node.panel).textContent =
          `delivered ${c.delivered} · held back ${s.buffered.length} · duplicates dropped ${c.duplicatesDropped} · retransmissions ${c.retransmissions}`;
        renderClock(node, s.clock);
        node.held = new Map(s.buffered.map((h) => [h.message.id, h]));
        renderHeld(node);
        if (s.lastIndex > node.lastIndex) await loadHistory(node, s.lastIndex);
        setUp(node, true);
      } catch {
        setUp(node, false);
      }
    }
  }

  async function refreshVerdict() {
    const verdict = $('#verdict');
    try {
      const report = await api('GET', '/cluster/consistency');
      verdict.textContent = report.ok
        ? `✓ causal order holds (${Object.values(report.counts).join('/')} delivered)`
        : `✗ ${report.verdict}`;
      verdict.className = `verdict ${report.ok ? 'ok' : 'bad'}`;
    } catch (error) {
      verdict.textContent = `checker unavailable: ${error.message}`;
      verdict.className = 'verdict bad';
    }
  }

  const FIELDS = [
    ['delayMs', 'delay ms', 1],
    ['jitterMs', 'jitter ms', 1],
    ['dropRate', 'drop rate', 0.05],
    ['duplicateRate', 'dup rate', 0.05],
  ];

  async function refreshLinks() {
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

  async function partition(id, partitioned) {
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

  async function healAll() {
    await api('DELETE', '/network');
    await refreshLinks();
  }

  function report(error) {
    const verdict = $('#verdict');
    verdict.textContent = error.message || String(error);
    verdict.className = 'verdict bad';
  }

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

  const SCENARIOS = {
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
  };

  function drawDiagram() {
    const svg = $('#diagram');
    const width = svg.clientWidth || 800;
    const height = svg.clientHeight || 220;
    const now = Date.now();
    const left = 44;
    const x = (t) => left + ((t - (now - WINDOW_MS)) / WINDOW_MS) * (width - left - 12);
    const rowGap = (height - 30) / Math.max(1, state.members.length);
    const y = (id) => 20 + rowGap * (state.members.indexOf(id) + 0.5);
    state.trace = state.trace.filter((e) => e.t > now - WINDOW_MS - 5000);
    const ns = 'http://www.w3.org/2000/svg';
    const shape = (tag, attrs) => {
      const node = document.createElementNS(ns, tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
      return node;
    };
    const parts = [];
    for (const id of state.members) {
      parts.push(shape('line', { class: 'axis', x1: left, x2: width - 8, y1: y(id), y2: y(id) }));
      const label = shape('text', { x: 8, y: y(id) + 4 });
      label.textContent = id;
      parts.push(label);
    }
    const sends = new Map(state.trace.filter((e) => e.kind === 'send').map((e) => [e.id, e]));
    const holds = new Map(
      state.trace.filter((e) => e.kind === 'hold').map((e) => [`${e.node}/${e.id}`, e]),
    );
    for (const e of state.trace) {
      if (e.kind !== 'deliver') continue;
      const sent = sends.get(e.id);
      const hold = holds.get(`${e.node}/${e.id}`);
      if (hold)
        parts.push(
          shape('line', {
            class: 'holding',
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
            x1: x(sent.t),
            y1: y(sent.node),
            x2: x(e.t),
            y2: y(e.node),
            'marker-end': 'url(#head)',
          }),
        );
    }
    for (const e of state.trace) {
      if (e.kind === 'send')
        parts.push(shape('circle', { class: 'send', cx: x(e.t), cy: y(e.node), r: 5 }));
      else if (e.kind === 'deliver' && e.node !== e.sender)
        parts.push(shape('circle', { class: 'deliver', cx: x(e.t), cy: y(e.node), r: 4 }));
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

  async function main() {
    const nodes = await api('GET', '/nodes');
    state.members = nodes.map((n) => n.id);
    for (const id of state.members) createPanel(id);
    $('#window-s').textContent = String(WINDOW_MS / 1000);
    $('#heal').addEventListener('click', () => healAll().catch(report));
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
    setInterval(drawDiagram, 250);
  }

  main().catch(report);
})();
