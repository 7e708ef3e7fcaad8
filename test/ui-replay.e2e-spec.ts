import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import type { Page } from 'playwright-core';
import type { RunEvent } from '@app/contracts';
import { panelOf, TestBrowser } from './support/browser';
import { ROOT, TestCluster } from './support/cluster';

const ARTIFACTS = join(ROOT, 'artifacts', 'ui');
const PUBLIC = join(ROOT, 'apps/gateway/public');
const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.ico': 'image/x-icon',
};

/** The page's files as plain static files: no gateway, no cluster behind them. */
function staticServer(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split(/[?#]/)[0];
    const file = join(PUBLIC, path === '/' ? 'index.html' : path);
    if (!file.startsWith(PUBLIC)) return void res.writeHead(403).end();
    const type = TYPES[extname(file)];
    if (!type) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': type });
    createReadStream(file)
      .on('error', () => res.end())
      .pipe(res);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const address = server.address() as { port: number };
      resolve({ server, url: `http://127.0.0.1:${address.port}` });
    }),
  );
}

/**
 * Time travel in Chromium: after "A reply racing its cause", the slider put just after the
 * reply reached n2 shows it held back; stepping forward delivers it; the run downloaded and
 * opened in a page with no cluster shows the same; a #t=…&sel=… link reproduces the view.
 */
describe('UI: replaying a run (Chromium, real processes, then no cluster)', () => {
  let cluster: TestCluster;
  let browser: TestBrowser;
  let page: Page;
  let url: string;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    cluster = await TestCluster.start({
      env: { CHAT_LINK_DELAY_MS: '5', CHAT_LINK_JITTER_MS: '10' },
    });
    url = await cluster.startGateway();
    browser = await TestBrowser.launch({ width: 1280, height: 1000 });
    page = browser.page;
    page.on('pageerror', (error) => consoleErrors.push(error.message));
    await page.goto(url);
    await page.waitForSelector('.panel .node-name');
  });

  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  const panel = panelOf;
  const replayed = (p: Page, id: string) =>
    panel(p, id).locator('.replay-messages li .text').allTextContents();
  let reachedN2: RunEvent;
  let runFile: string;

  it('shows n2 holding the reply back just after it arrived, and delivers it a step later', async () => {
    await page.locator('#scenario').selectOption('race');
    await panel(page, 'n2')
      .locator('.messages li', { hasText: 'Me!' })
      .waitFor({ timeout: 20_000 });
    const run = (await (await fetch(`${url}/cluster/run?from=0`)).json()) as { events: RunEvent[] };
    const reply = run.events.find((e) => e.kind === 'send' && e.text?.startsWith('Me!'))!;
    reachedN2 = run.events.find(
      (e) => e.kind === 'receive' && e.node === 'n2' && e.id === reply.id,
    )!;
    const delivered = run.events.find(
      (e) => e.kind === 'deliver' && e.node === 'n2' && e.id === reply.id,
    )!;
    expect(delivered.at).toBeGreaterThan(reachedN2.at); // it was held back

    await page.locator('#time-slider').fill(String(reachedN2.at));
    await page.waitForFunction(() => document.body.classList.contains('replaying'));
    // The slider's first move loads the run; put it exactly where wanted.
    await page.locator('#time-slider').fill(String(reachedN2.at));
    const held = panel(page, 'n2').locator('.replay-held li');
    await held.filter({ hasText: 'Me!' }).waitFor();
    const question = run.events.find((e) => e.kind === 'send' && e.text === 'Who wants lunch?')!;
    expect(await held.locator('.waiting').textContent()).toBe(`waiting for n0 #${question.seq}`);
    expect(await replayed(page, 'n2')).not.toContain(reply.text);
    // In arrival order the reply sits above its cause at n2, marked.
    await page.locator('#time-slider').fill(String(delivered.at));
    await panel(page, 'n2').locator('select.order').selectOption('arrived');
    await panel(page, 'n2')
      .locator('.replay-messages li', { hasText: 'Me!' })
      .locator('.cause-mark', { hasText: `shown before its cause ${question.id}` })
      .waitFor();
    await panel(page, 'n2').locator('select.order').selectOption('delivered');
    expect(await page.locator('.cause-mark').count()).toBe(0);

    // Back to just after the arrival; the arrow key steps to the next instant, and on.
    await page.locator('#time-slider').fill(String(reachedN2.at));
    await held.filter({ hasText: 'Me!' }).waitFor();
    await page.locator('#time-slider').focus();
    for (let i = 0; i < 50 && (await held.count()) > 0; i++)
      await page.keyboard.press('ArrowRight');
    expect(await held.count()).toBe(0);
    expect((await replayed(page, 'n2')).slice(-2)).toEqual(['Who wants lunch?', reply.text]);
    expect(Number(await page.locator('#time-slider').inputValue())).toBe(delivered.at);
    await page.screenshot({ path: join(ARTIFACTS, 'replay-1-stepped.png') });

    // Download run: the file the page saves.
    await page.locator('#time-slider').fill(String(reachedN2.at));
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('#download-run').click(),
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'run-file-'));
    runFile = join(dir, 'lunch.json');
    await download.saveAs(runFile);
    expect(JSON.parse(readFileSync(runFile, 'utf8'))).toMatchObject({
      format: 'causal-chat-run',
      version: 1,
    });
    // The address is a link to this moment of the live cluster's run: a new page restores it.
    // (The address follows the view a moment later: wait for the instant shown now.)
    await page.waitForFunction(() => {
      const hash = new URLSearchParams(window.location.hash.slice(1));
      const slider = document.querySelector('#time-slider') as HTMLInputElement;
      return (
        /^#t=\d+&from=\d+&to=\d+$/.test(window.location.hash) &&
        Number(hash.get('t')) + Number(slider.min) === Number(slider.value)
      );
    });
    const link = page.url();
    const third = await browser.context.newPage();
    await third.goto(link);
    await panel(third, 'n2').locator('.replay-held li', { hasText: 'Me!' }).waitFor();
    expect(await third.locator('#time-slider').inputValue()).toBe(String(reachedN2.at));
    await third.close();
    // Live again.
    await page.locator('#replay-live').click();
    await page.waitForFunction(() => !document.body.classList.contains('replaying'));
    expect(consoleErrors).toEqual([]);
  });

  it('opens the file in a page with no cluster, and a #t=…&sel=… link gives the same view', async () => {
    const { server, url: offline } = await staticServer();
    const second = await browser.context.newPage();
    const errors: string[] = [];
    second.on('pageerror', (error) => errors.push(error.message));
    try {
      const run = JSON.parse(readFileSync(runFile, 'utf8')) as { events: RunEvent[] };
      const start = run.events[0].at;
      const question = run.events.find((e) => e.kind === 'send' && e.text === 'Who wants lunch?')!;
      await second.goto(`${offline}/#t=${reachedN2.at - start}&sel=${question.id}`);
      await second.locator('#recording-note', { hasText: 'No cluster answers here' }).waitFor();
      await second.locator('#open-run').setInputFiles(runFile);
      await second.locator('#recording-note', { hasText: 'A recording: lunch.json' }).waitFor();
      const held = panel(second, 'n2').locator('.replay-held li', { hasText: 'Me!' });
      await held.waitFor();
      expect(await held.locator('.waiting').textContent()).toBe(`waiting for n0 #${question.seq}`);
      // The selected message and what happened before / after it, as in the link.
      await panel(second, 'n1')
        .locator('.replay-messages li.sel', { hasText: 'Who wants lunch?' })
        .waitFor();
      expect(await second.locator('#time-slider').inputValue()).toBe(String(reachedN2.at));
      expect(second.url()).toContain(`#t=${reachedN2.at - start}&sel=${question.id}`);
      // A recording changes nothing: its controls are gone.
      expect(await second.locator('.composer').first().isVisible()).toBe(false);
      await second.screenshot({ path: join(ARTIFACTS, 'replay-2-offline.png') });
      expect(errors).toEqual([]);
    } finally {
      await second.close();
      server.close();
      rmSync(join(runFile, '..'), { recursive: true, force: true });
    }
  });
});
