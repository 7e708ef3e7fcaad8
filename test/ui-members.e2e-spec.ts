/// <reference lib="dom" />
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestBrowser } from './support/browser';
import { freePortBlock } from './support/ports';
import { Supervisor } from './support/supervisor';
jest.setTimeout(120_000);

/**
 * The page on a cluster that `npm start` runs (the real launcher): "Add node" makes a fourth
 * panel appear and fill with the history; "Retire" makes it go; the link matrix follows.
 */
describe('web UI: the cluster grows and shrinks (Chromium against npm start)', () => {
  let dataDir: string;
  let supervisor: Supervisor;
  let browser: TestBrowser | undefined;
  afterEach(async () => {
    await browser?.close();
    await supervisor?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('adds a node from the page, shows its panel filling with the history, and retires it', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'ui-members-'));
    const port = await freePortBlock(1);
    supervisor = new Supervisor({
      CHAT_NODES: '3',
      CHAT_BASE_PORT: String(await freePortBlock(50)),
      PORT: String(port),
      DATA_DIR: dataDir,
    });
    await supervisor.waitFor(/Causal chat is running with 3 nodes/);
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 40; i++)
      await fetch(`${url}/nodes/n${i % 3}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: `before the join ${i}` }),
      });
    browser = await TestBrowser.launch({ width: 1280, height: 900 });
    const page = browser.page;
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('dialog', (dialog) => {
      if (dialog.type() === 'prompt' && dialog.message().includes('Id of the new node'))
        void dialog.accept('n3');
      else if (dialog.type() === 'confirm' && dialog.message().includes('Retire n3'))
        void dialog.accept();
      else {
        errors.push(`unexpected dialog: ${dialog.message()}`);
        void dialog.dismiss();
      }
    });
    await page.goto(url);
    await page.waitForSelector('.panel .node-name');
    expect(await page.locator('.panel').count()).toBe(3);
    await page.waitForFunction(
      () => document.querySelectorAll('.link-matrix button.link').length === 6,
    );

    await page.locator('#add-node').click();
    const n3 = page.locator('.panel', { has: page.locator('.node-name', { hasText: /^n3$/ }) });
    await n3.waitFor();
    // Its panel fills with the whole history, then with its own "joined" entry.
    await page.waitForFunction(
      () => {
        const panel = Array.from(document.querySelectorAll('.panel')).find(
          (p) => p.querySelector('.node-name')?.textContent === 'n3',
        );
        const texts = Array.from(panel?.querySelectorAll('.messages li .text') ?? []).map(
          (t) => t.textContent,
        );
        return (
          texts.filter((t) => t?.startsWith('before the join')).length === 40 &&
          texts.includes('n3 joined')
        );
      },
      undefined,
      { timeout: 30_000 },
    );
    expect(await n3.locator('.messages li.member-entry').count()).toBeGreaterThanOrEqual(2);
    await page.waitForFunction(
      () => document.querySelectorAll('.link-matrix button.link').length === 12,
    );
    expect(supervisor.output).toMatch(/n3\s*\S*\| started \(pid \d+\)/);

    await n3.locator('input[name=text]').fill('hello from the new node');
    await n3.locator('input[name=text]').press('Enter');
    const n0 = page.locator('.panel', { has: page.locator('.node-name', { hasText: /^n0$/ }) });
    await n0.locator('.messages li', { hasText: 'hello from the new node' }).waitFor();

    await n3.locator('.retire').click();
    await n3.waitFor({ state: 'detached', timeout: 30_000 });
    expect(await page.locator('.panel').count()).toBe(3);
    await page.waitForFunction(
      () => document.querySelectorAll('.link-matrix button.link').length === 6,
    );
    await supervisor.waitFor(/n3\s*\S*\| retired from the cluster: not started again/);
    expect(errors).toEqual([]);
  });
});
