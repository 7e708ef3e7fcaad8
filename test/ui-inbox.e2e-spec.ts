import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { panelOf, sendFrom, TestBrowser } from './support/browser';
import { ROOT, TestCluster } from './support/cluster';

const ARTIFACTS = join(ROOT, 'artifacts', 'ui');

/**
 * Stepping through a live run in Chromium: n2's inbox paused from its panel, the reply
 * delivered before its cause with a click (it waits, and says for what), then the cause
 * (both delivered, in causal order).
 */
describe('UI: an inbox delivered by hand (Chromium, real processes)', () => {
  let cluster: TestCluster;
  let browser: TestBrowser;
  let page: Page;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    cluster = await TestCluster.start({
      env: { CHAT_LINK_DELAY_MS: '2', CHAT_LINK_JITTER_MS: '5' },
    });
    const url = await cluster.startGateway();
    browser = await TestBrowser.launch({ width: 1280, height: 1000 });
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
  const send = (id: string, text: string) => sendFrom(page, id, text);
  const flight = (text: string) => panel('n2').locator('.flights li', { hasText: text });

  it('delivers a reply before its cause by hand: it waits, then both arrive in order', async () => {
    await panel('n2').locator('button.pause').click();
    await page.waitForFunction(() =>
      Array.from(document.querySelectorAll('.panel')).some((p) => p.classList.contains('paused')),
    );
    expect(await panel('n2').locator('button.pause').textContent()).toBe('Resume');

    await send('n0', 'Who wants lunch?');
    await panel('n1').locator('.messages li', { hasText: 'Who wants lunch?' }).waitFor();
    await send('n1', 'Me!');
    await flight('Me!').waitFor();
    await flight('Who wants lunch?').waitFor();
    expect(await panel('n2').locator('.messages li', { hasText: 'lunch' }).count()).toBe(0);
    // Parked copies are drawn as arrows that stop short of n2's line.
    await page.waitForFunction(() => document.querySelectorAll('#diagram .parked').length === 2);
    await page.screenshot({ path: join(ARTIFACTS, 'inbox-1-tray.png') });

    await flight('Me!').locator('button.deliver').click();
    await panel('n2').locator('.tray-note', { hasText: 'held back, waiting for n0 #1' }).waitFor();
    await panel('n2').locator('.held li', { hasText: 'Me!' }).waitFor();
    expect(await panel('n2').locator('.held .waiting').textContent()).toBe('waiting for n0 #1');

    // The question, from its arrow in the diagram: the same choices as the tray.
    await page.locator('#diagram .parked-hit').first().click();
    await page.locator('#flight-menu button.deliver').click();
    await panel('n2').locator('.tray-note', { hasText: 'delivered n0:1, n1:1' }).waitFor();
    const texts = await panel('n2').locator('.messages li .text').allTextContents();
    expect(texts).toEqual(['Who wants lunch?', 'Me!']);
    expect(await panel('n2').locator('.held li').count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, 'inbox-2-delivered.png') });

    // Space pauses every inbox, and again resumes them all.
    await page.locator('h1').click();
    await page.keyboard.press(' ');
    await page.waitForFunction(() =>
      Array.from(document.querySelectorAll('.panel')).every((p) => p.classList.contains('paused')),
    );
    await page.keyboard.press(' ');
    await page.waitForFunction(() =>
      Array.from(document.querySelectorAll('.panel')).every((p) => !p.classList.contains('paused')),
    );
    expect(consoleErrors).toEqual([]);
  });
});
