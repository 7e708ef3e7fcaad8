import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { panelOf, TestBrowser } from './support/browser';
import { ROOT, TestCluster } from './support/cluster';

const ARTIFACTS = join(ROOT, 'artifacts', 'ui');

/**
 * The "Skewed clocks" scenario in Chromium: with n2's clock 5 s slow, sorting by sent time
 * puts n2's answer above n0's question in every panel (marked), delivered order and the HLC
 * do not; then Berkeley synchronization, and the whole run drawn on each node's own clock.
 */
describe('UI: skewed clocks (Chromium, real processes)', () => {
  let cluster: TestCluster;
  let browser: TestBrowser;
  let page: Page;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    cluster = await TestCluster.start({
      env: { CHAT_LINK_DELAY_MS: '5', CHAT_LINK_JITTER_MS: '20', CHAT_CLOCK_PING_MS: '250' },
    });
    const url = await cluster.startGateway();
    browser = await TestBrowser.launch({ width: 1280, height: 1100 });
    page = browser.page;
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    page.on('pageerror', (error) => consoleErrors.push(error.message));
    await page.goto(url);
    await page.waitForSelector('.panel .node-name');
  });

  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  const panel = (id: string) => panelOf(page, id);
  /** The texts of a panel's messages, top to bottom, with the anomaly mark when there is one. */
  const shown = (id: string) =>
    panel(id)
      .locator('.messages li')
      .evaluateAll((items) =>
        items.map((li) => ({
          text: li.querySelector('.text')?.textContent ?? '',
          mark: li.querySelector('.cause-mark')?.textContent ?? null,
        })),
      );
  const setOrder = async (order: string) => {
    for (const id of ['n0', 'n1', 'n2'])
      await panel(id).locator('select.order').selectOption(order);
  };

  it('sorted by sent time, the answer shows above its question at every node, marked', async () => {
    await page.locator('#scenario').selectOption('skew');
    await page.waitForFunction(
      () =>
        Array.from(document.querySelectorAll('.panel')).every(
          (p) => p.querySelectorAll('.messages li').length === 2 && p.querySelector('.cause-mark'),
        ),
      undefined,
      { timeout: 20_000 },
    );
    for (const id of ['n0', 'n1', 'n2']) {
      expect(await panel(id).locator('select.order').inputValue()).toBe('sent');
      const [first, second] = await shown(id);
      expect(first.text).toMatch(/^Time to sort by HLC/);
      expect(first.mark).toBe('shown before its cause n0:1');
      expect(second).toEqual({ text: 'What time is it?', mark: null });
    }
    await page.screenshot({ path: join(ARTIFACTS, 'time-1-sent-order.png') });
    // n2's panel says how wrong its clock is.
    await page.waitForFunction(() =>
      Array.from(document.querySelectorAll('.panel .time')).some((p) =>
        p.textContent?.includes('5.000 s slow'),
      ),
    );
  });

  it('in delivered order and in HLC order the question comes first and nothing is marked', async () => {
    for (const order of ['delivered', 'hlc']) {
      await setOrder(order);
      for (const id of ['n0', 'n1', 'n2']) {
        const list = await shown(id);
        expect(list.map((m) => m.text)).toEqual([
          'What time is it?',
          expect.stringMatching(/^Time to sort by HLC/),
        ]);
        expect(list.every((m) => m.mark === null)).toBe(true);
      }
    }
    expect(await page.locator('.cause-mark').count()).toBe(0);
  });

  it('synchronizes the clocks: the matrix shows small offsets and the page says they never reach zero', async () => {
    await page.locator('#scenario').selectOption('sync');
    await page.waitForFunction(
      () =>
        document.querySelector('#clock-note')?.textContent?.startsWith('Synchronized') &&
        Array.from(document.querySelectorAll('.panel .time')).every((p) =>
          p.textContent?.includes('berkeley: corrected'),
        ),
      undefined,
      { timeout: 20_000 },
    );
    expect(await page.locator('#sync-mode').inputValue()).toBe('berkeley');
    // Every estimate in the matrix drops from seconds to milliseconds once corrections apply.
    await page.waitForFunction(
      () => {
        const cells = Array.from(document.querySelectorAll('#clock-matrix td:not(.self)'));
        return cells.length === 6 && cells.every((td) => / ms ± /.test(td.textContent ?? ''));
      },
      undefined,
      { timeout: 20_000 },
    );
    expect(await page.locator('#clock-note').textContent()).toContain('never exactly');
  });

  it('draws the whole run on each node’s own clock (the answer sent before its question) and on true time', async () => {
    await page.locator('#mode-run').click();
    await page.locator('#axis-node').click();
    await page.waitForFunction(() =>
      document.querySelector('#diagram-note')?.textContent?.includes("at its own clock's readings"),
    );
    await page.screenshot({ path: join(ARTIFACTS, 'time-2-own-clocks.png') });
    const sendX = (id: string) =>
      page.locator(`#diagram circle.send[data-id="${id}"]`).getAttribute('cx').then(Number);
    // By n2's slow clock its answer was sent 5 s before the question it answers...
    expect(await sendX('n2:1')).toBeLessThan(await sendX('n0:1'));
    await page.locator('#axis-node').click();
    await page.waitForFunction(() =>
      document.querySelector('#diagram-note')?.textContent?.includes('true times'),
    );
    // ...and in true time after it.
    expect(await sendX('n2:1')).toBeGreaterThan(await sendX('n0:1'));
    expect(consoleErrors).toEqual([]);
  });
});
