/* Causal chat UI: one panel per node, live over Socket.IO; everything else over REST. */
'use strict';
(() => {
  const WINDOW_MS = 30_000;
  /** The whole-run diagram draws at most this many messages (the latest), to stay fast. */
  const RUN_MAX_MESSAGES = 2_000;
  const state = {
    members: [],
    nodes: new Map(),
    selected: null,
    trace: [],
    /** "node/id" -> when this page saw that node hold the message back (for the whole run). */
    holds: new Map(),
    mode: 'live',
    /** The finished-run view: every node's deliveries, fetched by REST, with server times. */
    run: { deliveries: new Map(), loading: null },
  };
  const $ = (selector, root = document) => root.querySelector(selector);

  /** The operator token (GATEWAY_ADMIN_TOKEN), asked for once and kept for this tab. */
  const TOKEN_KEY = 'causal-chat.operator-token';
  let asking = null;
  function askForToken(refused) {
    // Controls that fail together (a partition is four requests) share one question.
    asking ??= new Promise((resolve) => {
      const token = window.prompt(
        refused
          ? 'That operator token was refused. Operator token (GATEWAY_ADMIN_TOKEN):'
          : 'This control needs the operator token (GATEWAY_ADMIN_TOKEN):',
      );
      if (token && token.trim()) sessionStorage.setItem(TOKEN_KEY, token.trim());
      resolve(Boolean(token && token.trim()));
      setTimeout(() => (asking = null), 0);
    });
    return asking;
  }

  function request(method, path, body) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const headers = body ? { 'content-type': 'application/json' } : {};
    if (token) headers.authorization = `Bearer ${token}`;
    return fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  }

  /**
   * A REST call. An operator endpoint that answers 401/403 makes the page ask for the token
   * and try once more, unless `ask` is false (background refreshes never interrupt anyone).
   */
  async function api(method, path, body, { ask = true } = {}) {
    const sentWith = sessionStorage.getItem(TOKEN_KEY);
    let response = await request(method, path, body);
    if (ask && (response.status === 401 || response.status === 403)) {
      // A token stored while this request was out (another control asked) is tried first.
      const stored = sessionStorage.getItem(TOKEN_KEY);
      if (stored && stored !== sentWith) response = await request(method, path, body);
      else {
        if (response.status === 403) sessionStorage.removeItem(TOKEN_KEY);
        if (await askForToken(response.status === 403))
          response = await request(method, path, body);
      }
    }
    const data = await response.json().catch(() => null);
    if (!response.ok)
      throw Object.assign(
        new Error(data && data.message ? [].concat(data.message).join('; ') : response.statusText),
        { status: response.status },
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

  // Live events that arrive while history is loading wait for it: delivered first, a later
  // message would move node.lastIndex past the history still on its way, which deliver()
  // would then drop as already shown.
  async function loadHistory(node, upTo) {
    if (node.loading) return; // the load under way shows these too, or the next refresh does
    node.loading = true;
    try {
      let after = node.lastIndex;
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

  function createPanel(id) {
    const panel = $('#panel-template').content.firstElementChild.cloneNode(true);
    $('.node-name', panel).textContent = id;
    $('.shiviz', panel).href = `/nodes/${id}/log?format=shiviz&limit=all`;
    $('.shiviz', panel).download = `${id}.shiviz.log`;
    const node = {
      id,
      panel,
      lastIndex: 0,
      held: new Map(),
      up: true,
      partitioned: false,
      loading: false,
      waitingLive: [],
    };
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
    socket.on('delivered', (message) => onLive(node, message));
    socket.on('buffered', (held) => {
      node.held.set(held.message.id, held);
      const t = Date.now();
      state.trace.push({ kind: 'hold', node: id, id: held.message.id, t });
      if (state.holds.size < 10_000) state.holds.set(`${id}/${held.message.id}`, t);
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
  }

  async function refreshVerdict() {
    const verdict = $('#verdict');
    try {
      const report = await api('GET', '/cluster/consistency', undefined, { ask: false });
      verdict.textContent = report.ok
        ? `✓ causal order holds (${Object.values(report.counts).join('/')} delivered)`
        : `✗ ${report.verdict}`;
      verdict.className = `verdict ${report.ok ? 'ok' : 'bad'}`;
    } catch (error) {
      const locked = error.status === 401 || error.status === 403;
      verdict.textContent = locked
        ? '🔒 causal checker: operator only (click to enter the token)'
        : `checker unavailable: ${error.message}`;
      verdict.className = `verdict ${locked ? 'locked' : 'bad'}`;
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

  const SVG_NS = 'http://www.w3.org/2000/svg';
  function shape(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    return node;
  }

  /**
   * Draws events (send / deliver / hold, each with a node, a message id and a time in ms)
   * between `from` and `to` on one line per node: sends ●, deliveries ○, an arrow from a
   * send to each delivery elsewhere, and a bar for the time a message was held back.
   */
  function renderDiagram(events, from, to, width, ticks) {
    const svg = $('#diagram');
    const height = svg.clientHeight || 220;
    const left = 44;
    const x = (t) => left + ((t - from) / Math.max(1, to - from)) * (width - left - 12);
    const rowGap = (height - 34) / Math.max(1, state.members.length);
    const y = (id) => 20 + rowGap * (state.members.indexOf(id) + 0.5);
    const parts = [];
    for (const id of state.members) {
      parts.push(shape('line', { class: 'axis', x1: left, x2: width - 8, y1: y(id), y2: y(id) }));
      const label = shape('text', { x: 8, y: y(id) + 4 });
      label.textContent = id;
      parts.push(label);
    }
    for (const [t, text] of ticks) {
      const label = shape('text', {
        class: 'tick',
        x: x(t),
        y: height - 6,
        'text-anchor': 'middle',
      });
      label.textContent = text;
      parts.push(label);
    }
    const sends = new Map(events.filter((e) => e.kind === 'send').map((e) => [e.id, e]));
    const holds = new Map(
      events.filter((e) => e.kind === 'hold').map((e) => [`${e.node}/${e.id}`, e]),
    );
    for (const e of events) {
      if (e.kind !== 'deliver') continue;
      const sent = sends.get(e.id);
      const hold = holds.get(`${e.node}/${e.id}`);
      if (hold)
        parts.push(
          shape('line', {
            class: 'holding',
            'data-id': e.id,
            'data-node': e.node,
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
            'data-id': e.id,
            'data-node': e.node,
            x1: x(sent.t),
            y1: y(sent.node),
            x2: x(e.t),
            y2: y(e.node),
            'marker-end': 'url(#head)',
          }),
        );
    }
    for (const e of events) {
      if (e.kind === 'send')
        parts.push(
          shape('circle', { class: 'send', 'data-id': e.id, cx: x(e.t), cy: y(e.node), r: 5 }),
        );
      else if (e.kind === 'deliver' && e.node !== e.sender)
        parts.push(
          shape('circle', {
            class: 'deliver',
            'data-id': e.id,
            'data-node': e.node,
            cx: x(e.t),
            cy: y(e.node),
            r: 4,
          }),
        );
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

  function drawLive() {
    const svg = $('#diagram');
    svg.style.width = '';
    const now = Date.now();
    state.trace = state.trace.filter((e) => e.t > now - WINDOW_MS - 5000);
    const ticks = [0, 10, 20, 30].map((s) => [now - s * 1000, s === 0 ? 'now' : `−${s} s`]);
    renderDiagram(state.trace, now - WINDOW_MS, now, svg.clientWidth || 800, ticks);
  }

  /** Fetches what each node delivered since the last call (all of it the first time). */
  async function loadRun() {
    for (const id of state.members) {
      const known = state.run.deliveries.get(id) ?? [];
      state.run.deliveries.set(id, known);
      let after = known.length ? known[known.length - 1].index : 0;
      for (;;) {
        let page;
        try {
          page = await api('GET', `/nodes/${id}/messages?after=${after}&limit=1000`);
        } catch {
          break; // a node that is down keeps what was fetched before
        }
        for (const m of page.messages)
          known.push({
            index: m.index,
            id: m.id,
            sender: m.sender,
            sentAt: m.sentAt,
            deliveredAt: m.deliveredAt,
          });
        if (page.messages.length < 1000) break;
        after = page.messages[page.messages.length - 1].index;
      }
    }
  }

  /** The finished run: every send and delivery the nodes logged, on the server's clocks. */
  function drawRun() {
    const sends = new Map();
    const delivers = [];
    for (const [node, deliveries] of state.run.deliveries) {
      for (const d of deliveries) {
        if (d.sender === node)
          sends.set(d.id, { kind: 'send', node, id: d.id, t: Date.parse(d.sentAt) });
        delivers.push({
          kind: 'deliver',
          node,
          id: d.id,
          sender: d.sender,
          t: Date.parse(d.deliveredAt),
        });
      }
    }
    const all = [...sends.values()].sort((a, b) => a.t - b.t);
    const shown = new Set(all.slice(-RUN_MAX_MESSAGES).map((e) => e.id));
    const events = [...sends.values(), ...delivers].filter((e) => shown.has(e.id));
    for (const e of delivers) {
      const t = state.holds.get(`${e.node}/${e.id}`);
      if (shown.has(e.id) && t !== undefined && t < e.t)
        events.push({ kind: 'hold', node: e.node, id: e.id, t });
    }
    const note = $('#diagram-note');
    const svg = $('#diagram');
    if (events.length === 0) {
      note.textContent = 'Nothing was sent yet.';
      svg.style.width = '';
      renderDiagram([], 0, 1, svg.clientWidth || 800, []);
      return;
    }
    const from = Math.min(...events.map((e) => e.t));
    const to = Math.max(...events.map((e) => e.t));
    const wrapWidth = svg.parentElement.clientWidth || 800;
    const width = Math.max(wrapWidth, Math.min(60_000, shown.size * 14));
    svg.style.width = `${width}px`;
    const span = Math.max(1, to - from);
    const step =
      [100, 250, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000, 300_000, 600_000].find(
        (ms) => (span / ms) * 90 <= width,
      ) ?? 3_600_000;
    const ticks = [];
    for (let t = 0; t <= span; t += step)
      ticks.push([
        from + t,
        step < 1000 ? `+${(t / 1000).toFixed(2)} s` : `+${Math.round(t / 1000)} s`,
      ]);
    renderDiagram(events, from - span * 0.01, to + span * 0.01, width, ticks);
    note.textContent =
      `${all.length > shown.size ? `The last ${shown.size} of ${all.length}` : `All ${all.length}`} ` +
      `messages, from ${new Date(from).toLocaleTimeString()} to ${new Date(to).toLocaleTimeString()} ` +
      `(times as the nodes logged them; held-back bars where this page saw them).`;
  }

  async function refreshRun() {
    state.run.loading ??= loadRun().finally(() => (state.run.loading = null));
    await state.run.loading;
    if (state.mode === 'run') drawRun();
  }

  function setMode(mode) {
    state.mode = mode;
    $('#mode-live').setAttribute('aria-pressed', String(mode === 'live'));
    $('#mode-run').setAttribute('aria-pressed', String(mode === 'run'));
    $('#diagram-note').textContent = mode === 'run' ? 'Loading the whole run…' : '';
    if (mode === 'run') refreshRun().catch(report);
    else drawLive();
  }

  async function main() {
    const nodes = await api('GET', '/nodes');
    state.members = nodes.map((n) => n.id);
    for (const id of state.members) createPanel(id);
    $('#window-s').textContent = String(WINDOW_MS / 1000);
    $('#mode-live').addEventListener('click', () => setMode('live'));
    $('#mode-run').addEventListener('click', () => setMode('run'));
    $('#heal').addEventListener('click', () => healAll().catch(report));
    $('#verdict').addEventListener('click', async () => {
      if ($('#verdict').classList.contains('locked') && (await askForToken(false)))
        refreshVerdict();
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
})();
