// The Jobs page's Cancel button in a real browser against a real agent: a running backup started
// from the console is cancelled from it; the job ends "cancelled" (on the page and in `cairn jobs`)
// and no snapshot is made.
import type { Browser } from 'playwright-core';
import { afterAll, expect, test } from 'vitest';
import type { Job, SnapshotsResult } from '../../../protocol/api.js';
import type { TestAgent } from '../helpers/agents.js';
import { agentWithBigSource } from '../helpers/big-source-agent.js';
import { describeBrowser, launchBrowser, loggedInPage } from '../helpers/browser.js';

describeBrowser('the Jobs page Cancel button', () => {
  let browser: Browser | undefined;
  let agent: TestAgent | undefined;
  afterAll(async () => {
    await browser?.close();
    await agent?.stop();
  });

  test('Cancel on a running backup: the job ends cancelled and no snapshot is made', async () => {
    // big enough to be still running when the button is clicked
    agent = (await agentWithBigSource('job-cancel-ui', { seed: 7, files: 8 })).agent;
    browser = await launchBrowser();
    const page = await loggedInPage(browser, agent);
    await page.goto(`${agent.info.api}/#/jobs`);
    await page.click('button.run-source[data-source=big]');
    await page.click('tr.job.running button.job-cancel', { timeout: 20_000 });
    await page.waitForSelector('tr.job.cancelled', { timeout: 60_000 });
    expect(await page.textContent('tr.job.cancelled')).toContain('cancelled from the console');
    const jobs = await agent.cli<Job[]>(['jobs', '--source', 'big']);
    expect(jobs[0]).toMatchObject({ state: 'cancelled', snapshot: null });
    expect(await agent.cli<SnapshotsResult>(['snapshots'])).toHaveLength(0);
  }, 300_000);
});
