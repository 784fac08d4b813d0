// The Settings page in a real browser: a source added from the Volumes page's directory link lands
// in cairn.yaml (its comments and other settings kept) and the running agent uses it at once; an
// invalid schedule is refused with the line that says why and leaves the file as it was; editing
// and removing work; e-mail (SMTP) notification settings are saved and come back with the
// password masked.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { CairnConfig } from '../../../protocol/config.js';
import { startAgent, type TestAgent } from '../helpers/agents.js';
import { describeBrowser, launchBrowser, loggedInPage } from '../helpers/browser.js';
import { cairn, initHome, tempDir } from '../helpers/cli.js';

const HAND_WRITTEN = `# my settings, written by hand\nname: settings-ui   # the name friends see\nreplicas: 1\n`;

describeBrowser('the Settings page', () => {
  let browser: Browser;
  let agent: TestAgent;
  let page: Page;
  let yamlFile: string;
  let data: string;

  beforeAll(async () => {
    data = join(await tempDir('cairn-settings-ui-'), 'photos');
    await mkdir(data);
    await writeFile(join(data, 'a.jpg'), 'not really a photo');
    const home = await initHome();
    yamlFile = join(home, 'cairn.yaml');
    await writeFile(yamlFile, HAND_WRITTEN);
    agent = await startAgent('settings-ui', { home, existing: { recoveryPhrase: '' } });
    browser = await launchBrowser();
    page = await loggedInPage(browser, agent);
    page.on('dialog', (d) => void d.accept());
  });
  afterAll(async () => {
    await browser?.close();
    await agent?.stop();
  });

  /** The running agent's sources (its `config` operation), not the file's. */
  const sources = async () => {
    const res = await fetch(`${agent.info.api}/api/v1/ops/config`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agent.info.token}`, 'content-type': 'application/json' },
      body: '{}',
    });
    return ((await res.json()) as CairnConfig).sources;
  };

  test('a directory from the Volumes page becomes a scheduled source; the agent runs it', async () => {
    await page.goto(`${agent.info.api}/#/volumes`);
    await page.fill('input[name=dir]', data);
    await page.click('a.protect-dir');
    await page.waitForSelector('.source-form');
    expect(await page.inputValue('input[name=source-name]')).toBe('photos');
    expect(await page.inputValue('input[name=source-what]')).toBe(data);
    await page.click('.source-form button:text("every hour")');
    await page.fill('input[name=source-exclude]', '*.tmp, cache/');
    await page.click('button.save-source');
    await expect.poll(() => page.textContent('.source-msg'), { timeout: 10_000 }).toContain('Saved "photos"');

    const text = await readFile(yamlFile, 'utf8');
    expect(text.startsWith(HAND_WRITTEN.trimEnd().split('\n')[0] as string)).toBe(true);
    expect(text).toMatch(/^name: settings-ui +# the name friends see$/m); // (the yaml library re-spaces comments)
    const [s] = await sources();
    expect(s).toMatchObject({
      name: 'photos',
      paths: [data],
      schedule: '0 * * * *',
      exclude: ['*.tmp', 'cache/'],
      retention: { keepDaily: 7, keepWeekly: 4, keepMonthly: 6 },
    });
    // the running agent knows it: it runs by name, and the table shows it
    const run = await agent.cli<{ state: string; snapshot: string | null }>(['run', 'photos', '--wait']);
    expect(run.state).toBe('succeeded');
    expect(await page.textContent('tr[data-source=photos]')).toContain('0 * * * *');
    // and says it in words next to the cron text
    expect(await page.textContent('tr[data-source=photos]')).toContain('Every hour');
  });

  test('an invalid schedule is refused with the reason; the file stays as it was', async () => {
    const before = await readFile(yamlFile, 'utf8');
    await page.click('tr[data-source=photos] button.edit-source');
    await page.fill('input[name=source-schedule]', '99 * * * *');
    await page.click('button.save-source');
    await expect.poll(() => page.textContent('.source-error'), { timeout: 10_000 }).toMatch(/schedule: "99 \* \* \* \*" is not a valid cron expression/);
    expect(await readFile(yamlFile, 'utf8')).toBe(before);
    // corrected, the edit goes through and keeps what the form does not show
    await page.fill('input[name=source-schedule]', '30 2 * * *');
    await page.fill('input[name=source-keep-daily]', '14');
    await page.click('button.save-source');
    await expect.poll(async () => (await sources())[0]?.schedule, { timeout: 10_000 }).toBe('30 2 * * *');
    expect((await sources())[0]).toMatchObject({ exclude: ['*.tmp', 'cache/'], retention: { keepDaily: 14, keepWeekly: 4, keepMonthly: 6 } });
    await expect.poll(() => page.textContent('tr[data-source=photos]'), { timeout: 10_000 }).toContain('At 02:30');
  });

  test('removing the source takes it out of cairn.yaml and out of the running agent', async () => {
    await page.click('tr[data-source=photos] button.remove-source');
    await expect.poll(() => page.textContent('.source-msg'), { timeout: 10_000 }).toContain('Removed "photos"');
    expect(await sources()).toEqual([]);
    const text = await readFile(yamlFile, 'utf8');
    expect(text).not.toContain('photos');
    expect(text).toContain('# my settings, written by hand');
    const r = await cairn(['run', 'photos'], { home: agent.home });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/photos/);
  });

  test('e-mail notification settings are saved; the password comes back masked', async () => {
    await page.goto(`${agent.info.api}/#/settings`);
    await page.waitForSelector('.notifications input[name=smtp-host]');
    await page.fill('input[name=smtp-host]', 'smtp.example.org');
    await page.fill('input[name=smtp-port]', '465');
    await page.check('input[name=smtp-secure]');
    await page.fill('input[name=smtp-user]', 'cairn');
    await page.fill('input[name=smtp-pass]', 'hunter2-secret');
    await page.fill('input[name=smtp-from]', 'cairn@example.org');
    await page.fill('input[name=smtp-to]', 'me@example.org, you@example.org');
    await page.fill('input[name=stale-hours]', '30');
    await page.click('button.save-notifications');
    await expect.poll(() => page.textContent('.notify-msg'), { timeout: 10_000 }).toBe('Saved.');
    await page.reload();
    await page.waitForSelector('.notifications input[name=smtp-host]');
    expect(await page.inputValue('input[name=smtp-host]')).toBe('smtp.example.org');
    expect(await page.inputValue('input[name=smtp-to]')).toBe('me@example.org, you@example.org');
    expect(await page.inputValue('input[name=stale-hours]')).toBe('30');
    expect(await page.inputValue('input[name=smtp-pass]')).toBe('********');
    expect(await page.isChecked('input[name=smtp-secure]')).toBe(true);
    // saving again with the masked password keeps the real one
    await page.fill('input[name=smtp-user]', 'cairn2');
    await page.click('button.save-notifications');
    await expect.poll(() => page.textContent('.notify-msg'), { timeout: 10_000 }).toBe('Saved.');
    const stored = await readFile(join(agent.home, 'notifications.json'), 'utf8');
    expect(JSON.parse(stored).email).toMatchObject({
      host: 'smtp.example.org',
      port: 465,
      secure: true,
      user: 'cairn2',
      pass: 'hunter2-secret',
      to: ['me@example.org', 'you@example.org'],
    });
  });
});
