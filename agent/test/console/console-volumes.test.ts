// The console's Volumes page and the whole-volume restore wizard (dry run, then an explicit
// confirmation; the restore runs as a job whose progress and result the dialog shows) against the
// real Docker engine, and the Settings page's retention preview.
import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startAgent, type TestAgent } from '../helpers/agents.js';
import { CHROMIUM, launchBrowser, loggedInPage } from '../helpers/browser.js';
import { describeDocker, docker, TEST_IMAGE } from '../helpers/docker-env.js';

describeDocker('console: volumes, volume restore, retention preview', () => {
  let browser: Browser;
  let agent: TestAgent;
  let page: Page;
  const vol = `cairn-ui-vol-${process.pid}`;
  const restored = `${vol}-restored`;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM} (apt-get install chromium)`);
    await docker(['volume', 'create', vol]);
    // 200 MiB of random bytes: the restore still runs when the dialog first asks for its job
    await docker([
      'run',
      '--rm',
      '-v',
      `${vol}:/d`,
      TEST_IMAGE,
      'sh',
      '-c',
      'echo one > /d/a.txt && mkdir /d/sub && echo two > /d/sub/b.txt && head -c 209715200 /dev/urandom > /d/big.bin',
    ]);
    agent = await startAgent('volumes-ui');
    browser = await launchBrowser();
    page = await loggedInPage(browser, agent);
  });
  afterAll(async () => {
    await browser?.close();
    await agent?.stop();
    await docker(['volume', 'rm', '-f', vol, restored]).catch(() => undefined);
  });

  test('the Volumes page lists the volume; "Back up now" makes its snapshot', async () => {
    await page.goto(`${agent.info.api}/#/volumes`);
    await page.waitForSelector(`tr[data-volume="${vol}"]`);
    await page.click(`tr[data-volume="${vol}"] button`);
    await expect.poll(() => page.textContent('.backup-msg'), { timeout: 120_000 }).toMatch(/^snapshot [0-9a-f]{8}/);
  }, 300_000);

  test('restore the whole volume into a new one: dry run first, then restore; contents identical', async () => {
    await page.goto(`${agent.info.api}/#/snapshots`);
    await page.click('button.restore-volume');
    await page.fill('.volume-wizard input[name=volume]', restored);
    await page.click('.volume-wizard button:text("Dry run")');
    await expect.poll(() => page.textContent('.volume-wizard .plan'), { timeout: 20_000 }).toContain(`Volume ${restored} will be created`);
    // the dry run created nothing
    expect(await docker(['volume', 'ls', '-q', '--filter', `name=^${restored}$`])).toBe('');
    await page.click('.volume-wizard button:text("Restore now")');
    // the restore runs as a job: its progress while it runs (files, bytes of the totals, percentage), then the result
    const seen: string[] = [];
    await expect
      .poll(
        async () => {
          const line = await page.$eval('.volume-wizard .restore-progress', (e) => e.textContent ?? '').catch(() => '');
          if (line) seen.push(line);
          return (await page.$('.volume-wizard .restore-done')) !== null;
        },
        { timeout: 120_000, interval: 100 },
      )
      .toBe(true);
    expect(seen.length, 'no progress line was shown while the restore ran').toBeGreaterThan(0);
    expect(
      seen.some((l) => /^Job \w{6}: \d+ of 3 files, .+ of 200\.0 MiB \(\d+%\)/.test(l)),
      seen.join('\n'),
    ).toBe(true);
    expect((await page.textContent('.volume-wizard .restore-done'))?.trim()).toBe(
      `Volume ${restored} restored from ${vol}: 3 of 3 files, 200.0 MiB of 200.0 MiB (100%).`,
    );
    const read = (v: string) =>
      docker(['run', '--rm', '-v', `${v}:/d:ro`, TEST_IMAGE, 'sh', '-c', 'cd /d && find . -type f | sort | while read f; do echo "$f $(md5sum < "$f")"; done']);
    expect(await read(restored)).toBe(await read(vol));
  }, 300_000);

  test('the retention preview shows what a policy would keep, and removes nothing', async () => {
    await agent.cliOk(['backup', `volume:${vol}`]);
    await page.goto(`${agent.info.api}/#/settings`);
    await page.fill('.retention-preview input[name=keepDaily]', '');
    await page.fill('.retention-preview input[name=keepWeekly]', '');
    await page.fill('.retention-preview input[name=keepLast]', '1');
    await page.click('.retention-preview button:text("Preview")');
    await page.waitForSelector('.retention-preview table.preview');
    expect(await page.$$eval('.retention-preview tr.keep', (r) => r.length)).toBe(1);
    expect(await page.$$eval('.retention-preview tr.remove', (r) => r.length)).toBe(1);
    expect((await agent.cli<unknown[]>(['snapshots'])).length).toBe(2);
  });
});
