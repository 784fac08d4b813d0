// The Jobs page in a real browser: start a configured source's backup from the console and watch
// its progress advance live (Server-Sent Events), with the total and the time left, until it succeeds.
import type { Browser } from 'playwright-core';
import { afterAll, expect, test } from 'vitest';
import type { TestAgent } from '../helpers/agents.js';
import { agentWithBigSource } from '../helpers/big-source-agent.js';
import { describeBrowser, launchBrowser, loggedInPage } from '../helpers/browser.js';

describeBrowser('the Jobs page', () => {
  let browser: Browser | undefined;
  let agent: TestAgent | undefined;
  afterAll(async () => {
    await browser?.close();
    await agent?.stop();
  });

  test('run a backup from the console and watch its progress advance, with the time left', async () => {
    // big enough that the backup takes several progress samples (every 500 ms)
    agent = (await agentWithBigSource('jobs-ui', { seed: 9, files: 12 })).agent;
    browser = await launchBrowser();
    const page = await loggedInPage(browser, agent);
    await page.goto(`${agent.info.api}/#/jobs`);
    await page.click('button.run-source[data-source=big]');
    await page.waitForSelector('tr.job.running .job-bytes', { timeout: 20_000 });
    const seen: string[] = [];
    const cells: string[] = [];
    for (let i = 0; i < 400; i++) {
      const running = await page.$('tr.job.running .job-bytes');
      if (!running) break;
      const text = (await running.textContent()) ?? '';
      if (seen.at(-1) !== text) seen.push(text);
      cells.push((await page.textContent('tr.job.running .job-progress').catch(() => null)) ?? '');
      await page.waitForTimeout(100);
    }
    // once the scan beside the backup has the total: how much of it, and the time left
    expect(
      cells.some((c) => /of 480\.0 MiB \(\d+%\).*about \d+ (s|min) left/.test(c)),
      cells.slice(-3).join(' | '),
    ).toBe(true);
    // the page showed at least three different amounts while the job ran, growing
    expect(seen.length, seen.join(' | ')).toBeGreaterThanOrEqual(3);
    await page.waitForSelector('tr.job.succeeded', { timeout: 60_000 });
    expect(await page.textContent('tr.job.succeeded')).toContain('snapshot');
  }, 300_000); // 480 MiB: ~30 s alone, much longer beside other suites
});
