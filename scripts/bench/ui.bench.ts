/**
 * npm run bench:ui [-- --messages 20000] — the page at a long history, in Debian's Chromium:
 * three nodes and the gateway (CURVE on) with `--messages` in their logs and no traffic,
 * then the page opened. Prints how long until every panel shows the newest message, the
 * longest main-thread task in 5 idle seconds after that (a long task is one over 50 ms),
 * and how long a message sent from a panel takes to appear in all three. The last line is
 * one JSON object of the figures.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { localMembers } from '@app/contracts';
import {
  arg,
  benchKeys,
  fmt,
  LeanRequester,
  originateAll,
  spawnGateway,
  spawnNode,
  stop,
} from './bench-util';

/** A multiple of three: each node originates a third. */
const MESSAGES = Math.round(Number(arg('messages') ?? 20_001) / 3) * 3;
const IDLE_MS = 5_000;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const progress = (text: string) => process.stderr.write(`[bench:ui] ${text}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-ui-'));
  const base = 37_000 + Math.floor(Math.random() * 300) * 10;
  const members = localMembers(3, base);
  const ids = ['n0', 'n1', 'n2'];
  const keys = benchKeys(dataDir, ids);
  const port = 39_500 + Math.floor(Math.random() * 400);
  const children = ids.map((id) => spawnNode(id, members, dataDir, 'ignore', keys.dir));
  const clients = ids.map(
    (id, i) => new LeanRequester(`tcp://127.0.0.1:${base + 10 * i}`, keys.toNode(id)),
  );
  progress(`originating ${fmt(MESSAGES)} messages`);
  await originateAll(clients, MESSAGES, 'history', 64);
  for (const client of clients) await client.close();
  children.push(spawnGateway(members, port, keys.dir));
  const url = `http://127.0.0.1:${port}`;
  for (
    let i = 0;
    i < 200 &&
    !(await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    ));
    i++
  )
    await sleep(100);

  const profile = mkdtempSync(join(tmpdir(), 'bench-ui-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  await page.addInitScript(() => {
    const w = window as unknown as { longTasks: { start: number; duration: number }[] };
    w.longTasks = [];
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries())
        w.longTasks.push({ start: entry.startTime, duration: entry.duration });
    }).observe({ type: 'longtask', buffered: true });
  });
  // A panel is ready when it shows its node's newest delivery.
  const lastIndexes = ((await (await fetch(`${url}/nodes`)).json()) as { lastIndex: number }[]).map(
    (node) => node.lastIndex,
  );
  progress('opening the page');
  const started = performance.now();
  await page.goto(url);
  await page.waitForFunction(
    (indexes) => {
      const panels = Array.from(document.querySelectorAll('.panel'));
      return (
        panels.length === 3 &&
        panels.every((panel, i) => panel.querySelector(`.messages li[data-index="${indexes[i]}"]`))
      );
    },
    lastIndexes,
    { timeout: 600_000, polling: 100 },
  );
  const readyMs = performance.now() - started;
  progress(`ready after ${fmt(readyMs)} ms; ${IDLE_MS / 1000} s idle`);
  const idleFrom = await page.evaluate(() => performance.now());
  await sleep(IDLE_MS);
  const longestIdleTaskMs = await page.evaluate(
    (from) =>
      Math.max(
        0,
        ...(window as unknown as { longTasks: { start: number; duration: number }[] }).longTasks
          .filter((task) => task.start >= from)
          .map((task) => task.duration),
      ),
    idleFrom,
  );
  const scriptStarted = performance.now();
  await page.evaluate(() => 1);
  const scriptMs = performance.now() - scriptStarted;
  const text = `sent from the page ${Date.now()}`;
  const sendStarted = performance.now();
  const input = page.locator('.panel').first().locator('input[name=text]');
  await input.fill(text);
  await input.press('Enter');
  await page.waitForFunction(
    (t) =>
      Array.from(document.querySelectorAll('.panel')).every((panel) =>
        Array.from(panel.querySelectorAll('.messages li .text')).some((li) => li.textContent === t),
      ),
    text,
    { timeout: 60_000, polling: 'raf' },
  );
  const sendToAllMs = performance.now() - sendStarted;

  // Time travel: the slider's first move loads the recent run (the widest window that
  // fits the replay's bound), then it is dragged across the whole run in 100 steps, each
  // one rendered (every panel and the diagram) before the next.
  progress('scrubbing the replay across its run');
  const slider = page.locator('#time-slider');
  const loadStarted = performance.now();
  await slider.fill((await slider.getAttribute('max'))!);
  await page.waitForFunction(() => document.body.classList.contains('replaying'), undefined, {
    timeout: 300_000,
  });
  const replayLoadMs = performance.now() - loadStarted;
  const scrub = await page.evaluate(async () => {
    const input = document.querySelector('#time-slider') as HTMLInputElement;
    const min = Number(input.min);
    const max = Number(input.max);
    const frames: number[] = [];
    for (let i = 0; i <= 100; i++) {
      const t0 = performance.now();
      input.value = String(Math.round(min + ((max - min) * i) / 100));
      input.dispatchEvent(new Event('input'));
      await new Promise((resolve) => requestAnimationFrame(() => resolve(null)));
      frames.push(performance.now() - t0);
    }
    const sorted = [...frames].sort((a, b) => a - b);
    return {
      events: Number(input.dataset.events),
      worstFrameMs: sorted[sorted.length - 1],
      medianFrameMs: sorted[Math.floor(sorted.length / 2)],
      slowFrames: frames.map((ms, i) => [i, Math.round(ms)]).filter(([, ms]) => ms > 100),
    };
  });
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  await Promise.all(children.map(stop));
  rmSync(dataDir, { recursive: true, force: true });

  process.stdout.write(
    `The page with ${fmt(MESSAGES)} messages in the logs, no traffic (Debian Chromium, headless)\n`,
  );
  process.stdout.write(
    `page ready (every panel shows its newest message): ${fmt(readyMs)} ms (target < 2,000)\n`,
  );
  process.stdout.write(
    `longest main-thread task in ${IDLE_MS / 1000} s idle: ${fmt(longestIdleTaskMs)} ms (target < 50)\n`,
  );
  process.stdout.write(`a trivial script answers in ${fmt(scriptMs)} ms\n`);
  process.stdout.write(
    `sent from a panel, shown in all three: ${fmt(sendToAllMs)} ms (target < 200)\n`,
  );
  process.stdout.write(
    `replay: ${fmt(scrub.events)} events loaded in ${fmt(replayLoadMs)} ms; scrubbed across in 100 steps, worst frame ${fmt(scrub.worstFrameMs)} ms (target < 100), median ${fmt(scrub.medianFrameMs)} ms; over 100 ms: ${JSON.stringify(scrub.slowFrames)}\n`,
  );
  process.stdout.write(
    `${JSON.stringify({ messages: MESSAGES, uiReadyMs: Math.round(readyMs), uiLongestIdleTaskMs: Math.round(longestIdleTaskMs), uiScriptMs: Math.round(scriptMs), uiSendToAllMs: Math.round(sendToAllMs), uiReplayEvents: scrub.events, uiReplayLoadMs: Math.round(replayLoadMs), uiScrubWorstFrameMs: Math.round(scrub.worstFrameMs) })}\n`,
  );
}

void main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
