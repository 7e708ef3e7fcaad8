/// <reference lib="dom" />
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { panelOf, sendFrom, TestBrowser } from './support/browser';
import { ROOT, TestCluster, waitUntil } from './support/cluster';

const ARTIFACTS = join(ROOT, 'artifacts', 'ui');

describe('web UI (Debian Chromium against gateway + three nodes)', () => {
  let cluster: TestCluster;
  let url: string;
  let context: BrowserContext;
  let page: Page;
  let browser: TestBrowser;
  const consoleErrors: string[] = [];
  /** The operator token; the page asks for it once, when a control first answers 401. */
  const TOKEN = 'ui-test-operator-token-0123456789';
  const operator = { authorization: `Bearer ${TOKEN}` };
  let tokenPrompts = 0;
  let unauthorized = 0;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    cluster = await TestCluster.start({
      env: { CHAT_LINK_DELAY_MS: '5', CHAT_LINK_JITTER_MS: '40' },
    });
    url = await cluster.startGateway({ GATEWAY_ADMIN_TOKEN: TOKEN });
    browser = await TestBrowser.launch();
    ({ context, page } = browser);
    page.on('console', (message) => {
      // Chromium logs the one 401 that makes the page ask for the token; counted below.
      if (message.type() === 'error' && !message.text().includes('status of 401'))
        consoleErrors.push(`${message.text()} (${message.location().url})`);
    });
    page.on('pageerror', (error) => consoleErrors.push(error.message));
    page.on('response', (response) => {
      if (response.status() === 401) unauthorized++;
      else if (response.status() >= 400)
        consoleErrors.push(`${response.status()} ${response.url()}`);
    });
    page.on('dialog', (dialog) => {
      if (dialog.type() === 'prompt' && dialog.message().includes('operator token')) {
        tokenPrompts++;
        void dialog.accept(TOKEN);
        return;
      }
      consoleErrors.push(`unexpected dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
    await page.goto(url);
    await page.waitForSelector('.panel .node-name');
  });

  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  const panel = (id: string) => panelOf(page, id);
  const send = (id: string, text: string) => sendFrom(page, id, text);
  const messagesIn = (id: string) => panel(id).locator('.messages li');
  /** Waits until every panel shows a delivery at `index` or later. */
  const panelsReach = (index: number) =>
    page.waitForFunction(
      (at) =>
        Array.from(document.querySelectorAll('.panel')).every((panel) =>
          Array.from(panel.querySelectorAll('.messages li')).some(
            (li) => Number((li as HTMLElement).dataset.index) >= at,
          ),
        ),
      index,
    );

  it('shows a message sent from two panels in all three, with correct clocks', async () => {
    await expect(page.locator('.panel')).resolves;
    expect(await page.locator('.panel').count()).toBe(3);
    await send('n0', 'Hello');
    for (const id of ['n0', 'n1', 'n2'])
      await messagesIn(id).filter({ hasText: 'Hello' }).waitFor();
    await send('n1', 'Hi');
    for (const id of ['n0', 'n1', 'n2']) await messagesIn(id).filter({ hasText: 'Hi' }).waitFor();
    const hi = messagesIn('n2').filter({ hasText: 'Hi' });
    expect(await hi.locator('code').textContent()).toBe('[1,1,0]');
    expect(await hi.locator('code').getAttribute('title')).toBe('n0: 1, n1: 1, n2: 0');
    await page.screenshot({ path: join(ARTIFACTS, '1-two-messages.png') });
  });

  it('highlights what happened before and after a clicked message', async () => {
    await messagesIn('n2').filter({ hasText: 'Hi' }).click();
    expect(await messagesIn('n0').filter({ hasText: 'Hello' }).getAttribute('class')).toContain(
      'before',
    );
    expect(await messagesIn('n1').filter({ hasText: 'Hi' }).getAttribute('class')).toContain('sel');
    await page.locator('#clear-selection').click();
  });

  it('holds a reply back behind a slow link, says what it waits for, then delivers it in order', async () => {
    await page.request.put(`${url}/network/links/n0/n2`, {
      data: { delayMs: 3000, jitterMs: 0 },
      headers: operator,
    });
    await send('n0', 'Lunch?');
    await messagesIn('n1').filter({ hasText: 'Lunch?' }).waitFor();
    await send('n1', 'Yes!');
    const held = panel('n2').locator('.held li');
    await held.filter({ hasText: 'Yes!' }).waitFor({ timeout: 2500 });
    expect(await held.locator('.waiting').textContent()).toBe('waiting for n0 #2');
    await page.screenshot({ path: join(ARTIFACTS, '2-held-back.png') });
    await messagesIn('n2').filter({ hasText: 'Yes!' }).waitFor({ timeout: 8000 });
    const texts = await messagesIn('n2').locator('.text').allTextContents();
    expect(texts.indexOf('Lunch?')).toBeLessThan(texts.indexOf('Yes!'));
    expect(await held.count()).toBe(0);
    await page.request.delete(`${url}/network`, { headers: operator });
  });

  it('partitions a node and heals it from the controls, asking for the operator token once', async () => {
    // The verdict refreshes in the background: it never asks, it says it needs the token.
    expect(await page.locator('#verdict').textContent()).toContain('operator only');
    expect(tokenPrompts).toBe(0);
    await panel('n2').locator('button.partition').click();
    await page.waitForFunction(() => document.querySelectorAll('.link.cut').length === 4);
    // Four link changes answered 401 together: one question, then all four went through.
    expect(tokenPrompts).toBe(1);
    expect(unauthorized).toBeGreaterThanOrEqual(1);
    await send('n0', 'while n2 is cut off');
    await messagesIn('n1').filter({ hasText: 'while n2 is cut off' }).waitFor();
    await page.waitForTimeout(500);
    expect(await messagesIn('n2').filter({ hasText: 'while n2 is cut off' }).count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, '3-partitioned.png') });
    await page.locator('#heal').click();
    await messagesIn('n2').filter({ hasText: 'while n2 is cut off' }).waitFor({ timeout: 10_000 });
    expect(await page.locator('.link.cut').count()).toBe(0);
    expect(tokenPrompts).toBe(1); // kept for the tab
  });

  it('renders user text as text, never as HTML', async () => {
    const hostile = '<img src=x onerror=alert(1)>';
    await send('n1', hostile);
    for (const id of ['n0', 'n1', 'n2'])
      await messagesIn(id).filter({ hasText: hostile }).waitFor();
    expect(await page.locator('.messages img').count()).toBe(0);
  });

  it('a page opened while messages flow shows the history before them too', async () => {
    // n0's history is held back until a live message has reached the new page.
    await send('n0', 'history before the page opened');
    await messagesIn('n0').filter({ hasText: 'history before the page opened' }).waitFor();
    const second = await context.newPage();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let historyAsked = false;
    await second.route(/\/nodes\/n0\/messages\?after=0&/, async (route) => {
      historyAsked = true;
      await released;
      await route.continue();
    });
    try {
      await second.goto(url);
      await waitUntil(() => historyAsked, 10_000, "the new page to ask for n0's history");
      const sent = await fetch(`${url}/nodes/n1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'live while history loads' }),
      });
      expect(sent.status).toBe(201);
      await messagesIn('n0').filter({ hasText: 'live while history loads' }).waitFor();
      await new Promise((r) => setTimeout(r, 300)); // the event has reached the second page too
      release();
      const shown = second
        .locator('.panel', { has: second.locator('.node-name', { hasText: /^n0$/ }) })
        .locator('.messages li');
      await shown.filter({ hasText: 'live while history loads' }).waitFor();
      expect(await shown.evaluateAll((items) => items.map((li) => li.dataset.id))).toEqual(
        await messagesIn('n0').evaluateAll((items) => items.map((li) => li.dataset.id)),
      );
    } finally {
      release();
      await second.close();
    }
  });

  it('fills a gap in the live events from the log', async () => {
    // The new page loses n0's announcement of one message on its websocket.
    await send('n0', 'before the gap');
    await messagesIn('n0').filter({ hasText: 'before the gap' }).waitFor();
    const second = await context.newPage();
    const eventNames = new Set<string>();
    await second.routeWebSocket(/socket\.io/, (page) => {
      const server = page.connectToServer();
      server.onMessage((frame) => {
        const text = typeof frame === 'string' ? frame : '';
        // Socket.IO event frames: 42/nodes/<id>,["<event>",...]
        const event = /^42\/nodes\/[^,]+,\["([^"]+)"/.exec(text)?.[1];
        if (event) eventNames.add(event);
        if (text.includes('/nodes/n0,') && text.includes('announcement lost on the way')) return;
        page.send(frame);
      });
    });
    const shown = second
      .locator('.panel', { has: second.locator('.node-name', { hasText: /^n0$/ }) })
      .locator('.messages li');
    const ids = (list: typeof shown) =>
      list.evaluateAll((items) => items.map((li) => li.dataset.id));
    try {
      await second.goto(url);
      await shown.first().waitFor(); // its history is in
      for (const text of ['announcement lost on the way', 'the next one arrives']) {
        await send('n1', text);
        await messagesIn('n0').filter({ hasText: text }).waitFor();
      }
      await shown.filter({ hasText: 'the next one arrives' }).waitFor();
      await shown.filter({ hasText: 'announcement lost on the way' }).waitFor({ timeout: 5000 });
      expect(await ids(shown)).toEqual(await ids(messagesIn('n0')));
      // The page lives on one `deliveries` frame per batch; no per-message `delivered`.
      expect(eventNames).toContain('deliveries');
      expect(eventNames).not.toContain('delivered');
    } finally {
      await second.close();
    }
  });

  it("draws the whole run from the nodes' logs: the slow link's arrow is the long one", async () => {
    await page.locator('#mode-run').click();
    expect(await page.locator('#mode-run').getAttribute('aria-pressed')).toBe('true');
    const total = await messagesIn('n0').count();
    await page.waitForFunction(
      (n) => document.querySelector('#diagram-note')?.textContent?.startsWith(`All ${n} messages`),
      total,
    );
    expect(await page.locator('#diagram circle.send').count()).toBe(total);
    // "Lunch?" crossed n0 -> n2 over a 3 s link and n0 -> n1 over a 5-45 ms one.
    const lunch = await messagesIn('n0').filter({ hasText: 'Lunch?' }).getAttribute('data-id');
    const length = (node: string) =>
      page
        .locator(`#diagram line.arrow[data-id="${lunch}"][data-node="${node}"]`)
        .evaluate((line) => Number(line.getAttribute('x2')) - Number(line.getAttribute('x1')));
    expect(await length('n2')).toBeGreaterThan(3 * (await length('n1')));
    // The reply this page saw held back at n2 keeps its bar in the finished run.
    const yes = await messagesIn('n0').filter({ hasText: 'Yes!' }).getAttribute('data-id');
    expect(
      await page.locator(`#diagram line.holding[data-id="${yes}"][data-node="n2"]`).count(),
    ).toBe(1);
    await page.locator('.diagram-wrap').screenshot({ path: join(ARTIFACTS, '6-whole-run.png') });
  });

  it('fits a phone-width screen and shows the consistency verdict with no console errors', async () => {
    await page.waitForFunction(() =>
      document.querySelector('#verdict')?.textContent?.includes('causal order holds'),
    );
    await page.screenshot({ path: join(ARTIFACTS, '4-desktop.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - window.innerWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(ARTIFACTS, '5-phone.png'), fullPage: true });
    expect(consoleErrors).toEqual([]);
  });

  it('keeps a window of the newest messages on a long history, answers at once, and pages back on scroll', async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    for (let batch = 0; batch < 12; batch++)
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          cluster.send(['n0', 'n1', 'n2'][i % 3], `long history ${batch * 50 + i}`),
        ),
      );
    await cluster.converge(600);
    const states = await Promise.all(['n0', 'n1', 'n2'].map((id) => cluster.state(id)));
    const newest = Math.min(...states.map((s) => s.lastIndex));
    await page.reload();
    await panelsReach(newest);
    const started = Date.now();
    await page.evaluate(() => 1);
    expect(Date.now() - started).toBeLessThan(200);
    const shown = await messagesIn('n0').count();
    expect(shown).toBeLessThanOrEqual(200);
    expect(newest).toBeGreaterThanOrEqual(600);
    // Scrolled to its top, the panel loads the 100 messages before its oldest, in place.
    const oldest = Number(await messagesIn('n0').first().getAttribute('data-index'));
    await panel('n0')
      .locator('.messages')
      .evaluate((list) => (list.scrollTop = 0));
    await page.waitForFunction(
      (before) =>
        Number(
          (document.querySelector('.panel .messages li') as HTMLElement | null)?.dataset.index,
        ) < before,
      oldest,
    );
    expect(Number(await messagesIn('n0').first().getAttribute('data-index'))).toBe(oldest - 100);
    expect(await messagesIn('n0').count()).toBe(shown + 100);

    // Past the whole-run view's 2,000: it fetches and draws the newest, and says of how many.
    for (let batch = 0; batch < 42; batch++)
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          cluster.send(['n0', 'n1', 'n2'][i % 3], `longer history ${batch * 50 + i}`),
        ),
      );
    const total = (await cluster.converge(newest + 2100)).get('n0')!.length;
    await panelsReach(total);
    const runFetches: number[] = [];
    const onRequest = (req: { url(): string }) => {
      const after = /\/nodes\/n0\/messages\?after=(\d+)&limit=1000/.exec(req.url());
      if (after) runFetches.push(Number(after[1]));
    };
    page.on('request', onRequest);
    await page.locator('#mode-run').click();
    await page.waitForFunction(
      (all) => document.querySelector('#diagram-note')?.textContent?.includes(`of ${all} messages`),
      total,
    );
    page.off('request', onRequest);
    const note = await page.locator('#diagram-note').textContent();
    expect(Number(/The last (\d+) of/.exec(note ?? '')?.[1])).toBeLessThanOrEqual(2000);
    // It read n0's newest 2,000 deliveries, not its whole log from the start.
    expect(runFetches[0]).toBe(total - 2000);

    // The pager goes back to the start of the run and returns to the newest.
    expect(await page.locator('#run-later').isDisabled()).toBe(true);
    runFetches.length = 0;
    page.on('request', onRequest);
    await page.locator('#run-earlier').click();
    await page.waitForFunction(
      (all) =>
        document
          .querySelector('#diagram-note')
          ?.textContent?.startsWith(`Messages 1–2,000 of ${all} `),
      total,
    );
    page.off('request', onRequest);
    // (The 2-second refresh of the window it left may have run meanwhile.)
    expect(runFetches).toContain(0);
    expect(await page.locator('#run-earlier').isDisabled()).toBe(true);
    await page.locator('#run-later').click();
    await page.waitForFunction(
      (all) =>
        new RegExp(`^The last \\d+ of ${all} `).test(
          document.querySelector('#diagram-note')?.textContent ?? '',
        ),
      total,
    );
    expect(await page.locator('.run-pager').isVisible()).toBe(true);
    await page.locator('#mode-live').click();
    expect(await page.locator('.run-pager').isVisible()).toBe(false);
    expect(consoleErrors).toEqual([]);
  });
});
