// The console's directory restore dialog in a real browser against a real agent (issue 21 item 2):
// "Restore now" runs the restore as a job; while it runs the dialog shows its progress (files and
// bytes of the totals, the percentage), and once done its result; the restored files are the
// snapshot's, byte for byte.
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, expect, test } from 'vitest';
import type { TestAgent } from '../helpers/agents.js';
import { agentWithBigSource } from '../helpers/big-source-agent.js';
import { describeBrowser, launchBrowser, loggedInPage } from '../helpers/browser.js';
import { tempDir } from '../helpers/cli.js';

const FILES = 10;

describeBrowser('the restore dialog shows progress and the result', () => {
  let browser: Browser | undefined;
  let agent: TestAgent | undefined;
  afterAll(async () => {
    await browser?.close();
    await agent?.stop();
  });

  test('a folder restore: the progress line has files, bytes and a percentage while it runs; then the result', async () => {
    // big enough to be still running when the dialog first asks for the job
    const made = await agentWithBigSource('restore-progress-ui', { seed: 11, files: FILES });
    agent = made.agent;
    const snap = (await agent.cli<{ id: string }>(['backup', made.data])).id;
    browser = await launchBrowser();
    const page = await loggedInPage(browser, agent);
    const parent = dirname(made.data);
    const href = `${agent.info.api}/#/snapshots/${snap}/browse/${parent
      .split('/')
      .filter(Boolean)
      .map((n) => `${encodeURIComponent(n)}/`)
      .join('')}`;
    await page.goto(href);
    await page.click(`tr[data-path="${made.data}"] button.restore`);
    const target = join(await tempDir('cairn-restore-progress-'), 'out');
    await page.fill('.restore-wizard input[name=target]', target);
    await page.click('.restore-wizard button:text("Next")');
    const seen: string[] = [];
    await page.click('.restore-wizard button:text("Restore now")');
    // every progress line the dialog shows, until the result replaces it
    await expect
      .poll(
        async () => {
          const line = await page.$eval('.restore-progress', (e) => e.textContent ?? '').catch(() => '');
          if (line) seen.push(line);
          return (await page.$('.restore-done')) !== null;
        },
        { timeout: 120_000, interval: 100 },
      )
      .toBe(true);
    expect(seen.length, 'no progress line was shown while the restore ran').toBeGreaterThan(0);
    expect(
      seen.some((l) => new RegExp(`^Job \\w{6}: \\d+ of ${FILES} files, .+ of 400\\.0 MiB \\(\\d+%\\)`).test(l)),
      seen.join('\n'),
    ).toBe(true);
    expect((await page.textContent('.restore-done'))?.trim()).toBe(`Restored ${FILES} files (400.0 MiB) into ${target}.`);
    const restored = join(target, made.data);
    const names = (await readdir(restored)).sort();
    expect(names).toHaveLength(FILES);
    for (const n of names.slice(0, 2)) expect((await readFile(join(restored, n))).equals(await readFile(join(made.data, n))), n).toBe(true);
  }, 300_000);
});
