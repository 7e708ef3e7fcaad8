import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BrowserContext, chromium, Locator, Page } from 'playwright-core';

/** Debian's Chromium (`.ci/run` installs it); never a browser build of Playwright's own. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Headless Chromium with a fresh profile, as root, and none of its background connections
 * (this machine's network is closed: they would fail, many at a time).
 */
export class TestBrowser {
  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
    private readonly profile: string,
  ) {}

  static async launch(viewport = { width: 1280, height: 800 }): Promise<TestBrowser> {
    const profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const page = context.pages()[0] ?? (await context.newPage());
    return new TestBrowser(context, page, profile);
  }

  async close(): Promise<void> {
    await this.context.close();
    rmSync(this.profile, { recursive: true, force: true });
  }
}

/** Node `id`'s panel in the page. */
export function panelOf(page: Page, id: string): Locator {
  return page.locator('.panel', {
    has: page.locator('.node-name', { hasText: new RegExp(`^${id}$`) }),
  });
}

/** Types `text` into node `id`'s composer and sends it, as a person would. */
export async function sendFrom(page: Page, id: string, text: string): Promise<void> {
  const input = panelOf(page, id).locator('input[name=text]');
  await input.fill(text);
  await input.press('Enter');
}
