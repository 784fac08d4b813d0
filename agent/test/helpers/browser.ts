// Debian's chromium driven by playwright-core. Tests that need it use describeBrowser: without
// chromium they FAIL under CI (process.env.CI set) and are skipped with the reason otherwise.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { describeRequiring } from './requires.js';

export const CHROMIUM = process.env.CAIRN_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
}

/** A new page logged in to the agent's console with the password its first start printed. */
export async function loggedInPage(browser: Browser, agent: { info: { api: string }; log: () => string }): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(agent.info.api);
  await page.fill('input[name=password]', /admin password is (\S+)/.exec(agent.log())?.[1] ?? '');
  await page.click('button[type=submit]');
  await page.waitForSelector('header');
  return page;
}

export function describeBrowser(name: string, fn: () => void): void {
  describeRequiring(
    'chromium is available',
    existsSync(CHROMIUM) ? undefined : `no chromium at ${CHROMIUM} (apt-get install chromium, or set CAIRN_CHROMIUM)`,
    name,
    fn,
  );
}
