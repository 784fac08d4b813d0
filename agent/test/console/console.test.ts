// The console in a real browser (Debian's chromium via playwright-core) against real agents
// (separate processes, libp2p on loopback): log in with the first-start password, pair two agents
// through their consoles, see a backup on the dashboard, browse a snapshot and restore one file
// through the wizard, see a friend go offline; a friend's name made of HTML stays text; a friend's
// request for more space is granted, and a grant changed, on the Friends page.
// With CAIRN_SCREENSHOTS=1 it also writes the README's screenshots to docs/screenshots/.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startAgent, type TestAgent } from '../helpers/agents.js';
import { describeBrowser, launchBrowser } from '../helpers/browser.js';
import { ROOT, tempDir } from '../helpers/cli.js';
import { writeSampleTree, mixedTreeSpec } from '../helpers/sample-tree.js';

const HOSTILE_NAME = '<b>bob</b><img src=x onerror="window.__pwned=1">';
const shots = process.env.CAIRN_SCREENSHOTS === '1';

function passwordOf(agent: TestAgent): string {
  const m = /admin password is (\S+)/.exec(agent.log());
  if (!m) throw new Error(`no admin password in ${agent.name}'s log:\n${agent.log()}`);
  return m[1] as string;
}

async function logIn(page: Page, agent: TestAgent): Promise<void> {
  await page.goto(agent.info.api);
  await page.fill('input[name=password]', passwordOf(agent));
  await page.click('button[type=submit]');
  await page.waitForSelector('header');
}

async function shot(page: Page, name: string): Promise<void> {
  if (!shots) return;
  await mkdir(join(ROOT, 'docs', 'screenshots'), { recursive: true });
  await page.screenshot({ path: join(ROOT, 'docs', 'screenshots', `${name}.png`), fullPage: true });
}

describeBrowser('the console in a browser', () => {
  let browser: Browser;
  let alice: TestAgent;
  let bob: TestAgent;
  let a: Page;
  let b: Page;
  let data: string;

  beforeAll(async () => {
    alice = await startAgent('alice');
    bob = await startAgent(HOSTILE_NAME, { home: join(await tempDir('cairn-bob-'), 'home') });
    browser = await launchBrowser();
    a = await (await browser.newContext({ viewport: { width: 1200, height: 800 } })).newPage();
    b = await (await browser.newContext()).newPage();
    data = join(await tempDir('cairn-console-'), 'data');
    await writeSampleTree(data, mixedTreeSpec({ seed: 3, bigRandom: [200_000], bigText: [50_000], smallFiles: 12 }));
  });
  afterAll(async () => {
    await browser?.close();
    await alice?.stop();
    await bob?.stop();
  });

  test('log in with the first-start password (a wrong one is refused)', async () => {
    await a.goto(alice.info.api);
    await a.fill('input[name=password]', 'not-the-password');
    await a.click('button[type=submit]');
    await expect.poll(() => a.textContent('[role=alert]'), { timeout: 30_000 }).toContain('wrong password'); // Argon2id takes a while on a busy machine
    await a.fill('input[name=password]', passwordOf(alice));
    await a.click('button[type=submit]');
    await a.waitForSelector('header');
    expect(await a.textContent('header')).toContain('alice');
    // the session survives a reload (HttpOnly cookie; the page never sees it)
    await a.reload();
    await a.waitForSelector('header');
    expect(await a.evaluate('document.cookie')).toBe('');
  });

  test("pair the two agents through their consoles; the friend's HTML name is shown as text", async () => {
    await a.goto(`${alice.info.api}/#/friends`);
    await a.click('button.make-invite');
    const code = (await (await a.waitForSelector('.invite-code')).textContent())?.trim() ?? '';
    expect(code).toMatch(/^cairn1\./);
    await a.waitForSelector('img.qr');
    await shot(a, 'friends-invite');

    await logIn(b, bob);
    await b.goto(`${bob.info.api}/#/friends`);
    await b.fill('input[name=code]', code);
    await b.click('button.pair');
    await expect.poll(() => b.textContent('.paired'), { timeout: 20_000 }).toContain('Paired with alice');

    await a.goto(`${alice.info.api}/#/friends`);
    await a.waitForSelector('table.friends .friend-name');
    expect(await a.textContent('table.friends .friend-name')).toBe(HOSTILE_NAME);
    expect(await a.$$('table.friends img')).toHaveLength(0);
    expect(await a.$$('table.friends b')).toHaveLength(0);
    expect(await a.evaluate('window.__pwned')).toBeUndefined();
    await expect.poll(() => a.textContent('table.friends .online-state'), { timeout: 20_000 }).toBe('online');
    // how alice reaches bob right now, in the words `cairn peers` uses (loopback TCP: direct)
    await expect.poll(() => a.textContent('table.friends .reach'), { timeout: 20_000 }).toBe('direct');
    // and why, next to it (bob dialled alice's address when it paired; alice may have dialled back since)
    expect(await a.textContent('table.friends .reach-why')).toMatch(/^(it dialled our direct address|it answers at its direct address)$/);
    // the space columns read "X of Y" (htm drops whitespace that holds a line break: it read "0 Bof")
    expect(await a.textContent('table.friends')).toMatch(/ [\d.]+ \w?i?B of [\d.]+ \w?i?B/);
    await shot(a, 'friends');
  });

  test("a friend's request for more space shows on the Friends page (its note as text); Grant answers it; Change… sets a grant", async () => {
    const GIB = 1024 ** 3;
    await bob.cli(['ask', 'alice', '20G', '--note', '<img src=x onerror="window.__pwned=2">room for photos']);
    await a.goto(`${alice.info.api}/#/friends`);
    await expect.poll(() => a.textContent('table.friends .ask'), { timeout: 20_000 }).toContain('asks for 20.0 GiB');
    expect(await a.textContent('table.friends .ask')).toContain('<img src=x onerror="window.__pwned=2">room for photos');
    expect(await a.$$('table.friends img')).toHaveLength(0);
    await a.click('button.grant-ask');
    const grantAtBob = async () => (await bob.cli<Array<{ name: string; grantFromPeer: number }>>(['peers'])).find((p) => p.name === 'alice')?.grantFromPeer;
    await expect.poll(grantAtBob, { timeout: 20_000 }).toBe(20 * GIB);
    await expect.poll(async () => (await a.$$('table.friends .ask')).length, { timeout: 20_000 }).toBe(0);
    await a.click('button.change-grant');
    await a.fill('input[name=grant]', '5');
    await a.click('button.set-grant');
    await expect.poll(grantAtBob, { timeout: 20_000 }).toBe(5 * GIB);
    expect(await a.evaluate('window.__pwned')).toBeUndefined();
  });

  test('a backup shows on the dashboard; browse it and restore one file through the wizard', async () => {
    await alice.cliOk(['backup', data]);
    await a.goto(`${alice.info.api}/#/`);
    await a.waitForSelector(`tr[data-source="${data}"] .state`);
    expect(await a.textContent(`tr[data-source="${data}"] .state`)).toBe('ok');
    await shot(a, 'dashboard');

    await a.goto(`${alice.info.api}/#/snapshots`);
    await a.click('table.snapshots a.browse');
    // walk down to the file through the directory links
    for (const part of data.split('/').filter(Boolean)) await a.click(`table.files a.dir:text-is("${part}/")`);
    await a.click('table.files a.dir:text-is("logs/")');
    const file = `${data}/logs/app-0.log`;
    await a.click(`tr[data-path="${file}"] button.restore`);
    const target = join(await tempDir('cairn-console-restore-'), 'out');
    await a.fill('.restore-wizard input[name=target]', target);
    await a.click('.restore-wizard button:text("Next")');
    expect(await a.textContent('.restore-wizard .confirm-text')).toContain('Existing files that differ are left alone');
    await shot(a, 'restore');
    await a.click('.restore-wizard button:text("Restore now")');
    await expect.poll(() => a.textContent('.restore-done'), { timeout: 30_000 }).toContain('Restored 1 files');
    expect(await readFile(join(target, file))).toEqual(await readFile(file));
  });

  test('a friend that stops shows as offline', async () => {
    await bob.stop();
    await a.goto(`${alice.info.api}/#/friends`);
    await expect.poll(() => a.textContent('table.friends .online-state'), { timeout: 30_000 }).toMatch(/^offline/);
    expect(await a.textContent('table.friends .reach')).toBe('unreachable');
    expect(await a.textContent('table.friends .reach-why')).toMatch(/^no answer at its last known addresses since \d{4}-\d\d-\d\d \d\d:\d\d$/);
  });
});
