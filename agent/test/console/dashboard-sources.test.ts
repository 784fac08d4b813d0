// The dashboard's sources in a real browser, against a real agent: a configured source whose first
// backup runs shows "running" with its progress (not "never", and no "never been backed up"
// alert); ad-hoc backups (paths that are no configured source) sit in a table of their own, and one
// removed there stays away (also after a reload) until a newer backup of the same paths, while its
// snapshots stay. The operation behind the Remove button refuses configured sources and unknown
// names, and a damaged dashboard.json shows every row again with a warning naming the file.
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import type { Browser } from 'playwright-core';
import { afterAll, expect, test } from 'vitest';
import type { StatusResult } from '../../../protocol/console-api.js';
import type { TestAgent } from '../helpers/agents.js';
import { agentWithBigSource } from '../helpers/big-source-agent.js';
import { describeBrowser, launchBrowser, loggedInPage } from '../helpers/browser.js';
import { cairn, tempDir } from '../helpers/cli.js';
import { writeSampleTree } from '../helpers/sample-tree.js';

async function status(agent: TestAgent): Promise<StatusResult> {
  const r = await cairn(['status', '--json'], { home: agent.home });
  return JSON.parse(r.stdout) as StatusResult;
}

describeBrowser('the dashboard: running sources and ad-hoc backups', () => {
  let browser: Browser | undefined;
  let agent: TestAgent | undefined;
  afterAll(async () => {
    await browser?.close();
    await agent?.stop();
  });

  test('a first backup shows "running" with its progress; an ad-hoc row is removed and comes back with a newer backup', async () => {
    const small = join(await tempDir('cairn-dash-'), 'small');
    await writeSampleTree(small, { seed: 4, entries: [{ kind: 'random' as const, path: 'a.txt', size: 1000 }] });
    // big enough that the first backup runs for several of the dashboard's 3 s refreshes
    agent = (await agentWithBigSource('dash', { seed: 3, files: 16 })).agent;
    browser = await launchBrowser();
    const page = await loggedInPage(browser, agent);

    await agent.cliOk(['run', 'big']);
    // the status first (a command's round trip), then the page (its next 3 s refresh), both while
    // the first backup runs (640 MiB: a clean-clone run saw 320 MiB end between the two)
    const during = await status(agent);
    expect(during.sources.find((s) => s.name === 'big')?.state).toBe('running');
    expect(during.sources.find((s) => s.name === 'big')?.running?.jobId).toMatch(/./);
    expect(during.alerts.map((a) => a.message).join('\n')).not.toContain('never been backed up');
    const row = 'table.sources tr[data-source=big]';
    await page.waitForSelector(`${row} .state.running`, { timeout: 20_000 });
    await page.waitForSelector(`${row} .source-progress`, { timeout: 20_000 });
    expect(await page.textContent(`${row} .source-progress`)).toMatch(/\d+ (of \d+ )?files, /);
    expect(await page.textContent(row)).toContain('first run under way');
    await page.waitForSelector(`${row} .state.ok`, { timeout: 240_000 });

    // an ad-hoc backup through the agent: its own table, with a Remove button
    await agent.cliOk(['backup', small]);
    const adhocRow = `table.adhoc-sources tr[data-source="${small}"]`;
    await page.waitForSelector(adhocRow, { timeout: 10_000 });
    expect(await page.$(`table.sources tr[data-source="${small}"]`)).toBeNull();
    await page.click(`${adhocRow} button.remove-source`);
    await page.waitForSelector(adhocRow, { state: 'detached', timeout: 10_000 });
    await page.reload();
    await page.waitForSelector(`${row}`);
    expect(await page.$(adhocRow)).toBeNull();
    // its snapshots stay
    const snaps = JSON.parse(await agent.cliOk(['snapshots', '--json'])) as Array<{ paths: string[] }>;
    expect(snaps.some((s) => s.paths.includes(small))).toBe(true);

    // refused: a configured source, and a name that is on no row
    const api = async (name: string) =>
      fetch(`${agent!.info.api}/api/v1/ops/hideSource`, {
        method: 'POST',
        headers: { authorization: `Bearer ${agent!.info.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name }),
      });
    const refusedConfigured = await api('big');
    expect(refusedConfigured.status).toBe(400);
    expect(((await refusedConfigured.json()) as { message: string }).message).toContain('big is a configured source');
    const refusedUnknown = await api('/nowhere');
    expect(refusedUnknown.status).toBe(404);

    // a newer backup of the same paths brings the row back
    await agent.cliOk(['backup', small]);
    await page.waitForSelector(adhocRow, { timeout: 10_000 });

    // a damaged dashboard.json: every row shows, and a warning names the file
    await page.click(`${adhocRow} button.remove-source`);
    await page.waitForSelector(adhocRow, { state: 'detached', timeout: 10_000 });
    await writeFile(join(agent.home, 'dashboard.json'), '{"version":1,"hidden":');
    const damaged = await status(agent);
    expect(damaged.sources.some((s) => s.name === small)).toBe(true);
    expect(damaged.alerts.find((a) => a.kind === 'dashboard-file')?.message).toContain('dashboard.json is damaged');
  }, 400_000);
});
