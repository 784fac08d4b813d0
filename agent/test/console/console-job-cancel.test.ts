// The Jobs page's Cancel button in a real browser against a real agent: a running backup started
// from the console is cancelled from it; the job ends "cancelled" (on the page and in `cairn jobs`)
// and no snapshot is made.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, expect, test } from 'vitest';
import type { Job, SnapshotsResult } from '../../../protocol/api.js';
import { startAgent, type TestAgent } from '../helpers/agents.js';
import { describeBrowser, launchBrowser, loggedInPage } from '../helpers/browser.js';
import { initHome, tempDir } from '../helpers/cli.js';
import { writeSampleTree } from '../helpers/sample-tree.js';

const MIB = 1024 * 1024;

describeBrowser('the Jobs page Cancel button', () => {
  let browser: Browser | undefined;
  let agent: TestAgent | undefined;
  afterAll(async () => {
    await browser?.close();
    await agent?.stop();
  });

  test('Cancel on a running backup: the job ends cancelled and no snapshot is made', async () => {
    const data = join(await tempDir('cairn-job-cancel-ui-'), 'data');
    // big enough to be still running when the button is clicked
    await writeSampleTree(data, { seed: 7, entries: Array.from({ length: 8 }, (_, i) => ({ kind: 'random' as const, path: `f${i}.bin`, size: 40 * MIB })) });
    const home = await initHome();
    await writeFile(join(home, 'cairn.yaml'), `sources:\n  - name: big\n    paths: [${data}]\n`);
    agent = await startAgent('job-cancel-ui', { home, existing: { recoveryPhrase: '' } });
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
