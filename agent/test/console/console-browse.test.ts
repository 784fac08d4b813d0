// The console's file browser in a real browser (chromium) against a real agent (issue 21 item 2):
// a view of its own with a URL per snapshot and folder (the back button, a reload and a shared
// link open the same folder); switching snapshots shows the other snapshot's files and no dialog
// of the last; a 10,000-entry folder comes a page at a time (no answer holds more than a page);
// hostile paths in the URL stay inside the snapshot; a file downloads byte for byte and a folder as
// a tar whose entries are the files, names that are not UTF-8 included.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { extract } from 'tar-stream';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { BROWSE_PAGE_DEFAULT_ENTRIES, BROWSE_PAGE_MAX_ENTRIES, type BrowseResult } from '../../../protocol/api.js';
import { startAgent, type TestAgent } from '../helpers/agents.js';
import { describeBrowser, launchBrowser } from '../helpers/browser.js';
import { tempDir } from '../helpers/cli.js';

const MANY = 10_000;
const RAW_FILE = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2e, 0x62, 0x69, 0x6e]);
const RAW_DIR = Buffer.from([0x64, 0x69, 0x72, 0x2d, 0xfe]);
const RAW_INNER = Buffer.from([0x69, 0x6e, 0x2d, 0x80, 0x2e, 0x62, 0x69, 0x6e]);
const rawFileBody = randomBytes(200_000);
const rawInnerBody = randomBytes(50_000);

async function tarEntries(tar: Buffer): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const ex = extract();
  ex.end(tar);
  for await (const entry of ex) {
    const parts: Buffer[] = [];
    for await (const chunk of entry) parts.push(chunk as Buffer);
    out.set(entry.header.name, Buffer.concat(parts));
  }
  return out;
}

describeBrowser('the file browser in a browser', () => {
  let browser: Browser;
  let context: BrowserContext;
  let agent: TestAgent;
  let page: Page;
  let alpha: string;
  let beta: string;
  let snapA: string;
  let snapB: string;
  /** alpha again, after a file was added to alpha/shared. */
  let snapA2: string;
  const big = randomBytes(3 * 1024 * 1024 + 123);
  const folderFiles: Record<string, Buffer> = { 'x.txt': Buffer.from('x marks the spot\n'), 'deep/y.bin': randomBytes(80_000) };
  /** The largest number of entries one browse answer carried to the page. */
  let mostEntries = 0;

  const url = (snapshot: string, path: string, from = 0) =>
    `${agent.info.api}/#/snapshots/${snapshot}/browse/${path
      .split('/')
      .filter(Boolean)
      .map((n) => `${encodeURIComponent(n)}/`)
      .join('')}${from ? `?from=${from}` : ''}`;
  const shownPath = () => page.getAttribute('section.browser', 'data-path');
  const rowPaths = async () => page.$$eval('table.files tr[data-path]', (rows) => rows.map((r) => r.getAttribute('data-path')));

  beforeAll(async () => {
    const work = await tempDir('cairn-console-browse-');
    alpha = join(work, 'alpha');
    beta = join(work, 'beta');
    await mkdir(join(alpha, 'shared'), { recursive: true });
    await mkdir(join(alpha, 'many'), { recursive: true });
    await mkdir(join(alpha, 'folder', 'deep'), { recursive: true });
    await mkdir(join(beta, 'shared'), { recursive: true });
    await writeFile(join(alpha, 'only-in-alpha.txt'), 'alpha');
    await writeFile(join(alpha, 'shared', 'readme.txt'), 'alpha readme');
    await writeFile(join(alpha, 'big.bin'), big);
    for (const [rel, bytes] of Object.entries(folderFiles)) await writeFile(join(alpha, 'folder', rel), bytes);
    for (let i = 0; i < MANY; i++) await writeFile(join(alpha, 'many', `n${String(i).padStart(5, '0')}`), '');
    // names that are not UTF-8 (stored byte for byte): a Latin-1 "café.bin", a folder "dir-\xfe" with a file in it
    await mkdir(join(alpha, 'bytes'));
    await writeFile(Buffer.concat([Buffer.from(`${alpha}/bytes/`), RAW_FILE]), rawFileBody);
    await mkdir(Buffer.concat([Buffer.from(`${alpha}/bytes/`), RAW_DIR]));
    await writeFile(Buffer.concat([Buffer.from(`${alpha}/bytes/`), RAW_DIR, Buffer.from('/'), RAW_INNER]), rawInnerBody);
    await writeFile(join(beta, 'only-in-beta.txt'), 'beta');
    await writeFile(join(beta, 'shared', 'readme.txt'), 'beta readme');
    agent = await startAgent('browse');
    snapA = (await agent.cli<{ id: string }>(['backup', alpha])).id;
    snapB = (await agent.cli<{ id: string }>(['backup', beta])).id;
    await writeFile(join(alpha, 'shared', 'new.txt'), 'added later');
    snapA2 = (await agent.cli<{ id: string }>(['backup', alpha])).id;
    browser = await launchBrowser();
    context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1200, height: 800 } });
    page = await context.newPage();
    page.on('response', (r) => {
      if (!r.url().endsWith('/api/v1/ops/browse')) return;
      void r.json().then(
        (b: BrowseResult) => (mostEntries = Math.max(mostEntries, b.entries?.length ?? 0)),
        () => undefined,
      );
    });
    await page.goto(agent.info.api);
    await page.fill('input[name=password]', /admin password is (\S+)/.exec(agent.log())?.[1] ?? '');
    await page.click('button[type=submit]');
    await page.waitForSelector('header');
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await agent?.stop();
  });

  test('the browser has a URL per snapshot and folder: the back button, a reload and a shared link open the same folder', async () => {
    await page.goto(`${agent.info.api}/#/snapshots`);
    await page.click(`tr[data-snapshot="${snapA}"] a.browse`);
    await expect.poll(shownPath).toBe('/');
    expect(page.url()).toBe(url(snapA, '/'));
    for (const part of alpha.split('/').filter(Boolean)) await page.click(`table.files a.dir:text-is("${part}/")`);
    await expect.poll(shownPath).toBe(alpha);
    await page.click('table.files a.dir:text-is("shared/")');
    await expect.poll(shownPath).toBe(`${alpha}/shared`);
    expect(page.url()).toBe(url(snapA, `${alpha}/shared`));
    expect(await rowPaths()).toEqual([`${alpha}/shared/readme.txt`]);
    await page.goBack();
    await expect.poll(shownPath).toBe(alpha);
    expect(await rowPaths()).toContain(`${alpha}/only-in-alpha.txt`);
    await page.goForward();
    await expect.poll(shownPath).toBe(`${alpha}/shared`);
    await page.reload();
    await expect.poll(shownPath).toBe(`${alpha}/shared`);
    expect(await rowPaths()).toEqual([`${alpha}/shared/readme.txt`]);
    // the link shared: another tab of the same session opens the same folder
    const other = await context.newPage();
    await other.goto(url(snapA, `${alpha}/shared`));
    await expect.poll(() => other.getAttribute('section.browser', 'data-path')).toBe(`${alpha}/shared`);
    await other.close();
  }, 60_000);

  test("switching snapshots shows the other snapshot's files and no dialog of the last", async () => {
    await page.goto(url(snapA, `${alpha}/shared`));
    await expect.poll(shownPath).toBe(`${alpha}/shared`);
    await page.click(`tr[data-path="${alpha}/shared/readme.txt"] button.restore`);
    await page.waitForSelector('.restore-wizard');
    // through the list: back to all snapshots, Browse on the other one
    await page.click('a.all-snapshots');
    await page.click(`tr[data-snapshot="${snapB}"] a.browse`);
    await expect.poll(() => page.getAttribute('section.browser', 'data-snapshot')).toBe(snapB);
    await expect.poll(shownPath).toBe('/');
    expect(await page.$('.restore-wizard')).toBeNull();
    await page.goto(url(snapB, beta));
    await expect.poll(shownPath).toBe(beta);
    expect(await rowPaths()).toEqual([`${beta}/only-in-beta.txt`, `${beta}/shared`]);
    // straight from one snapshot's folder, dialog open, to another's (only the URL's hash changes)
    await page.click(`tr[data-path="${beta}/only-in-beta.txt"] button.restore`);
    await page.waitForSelector('.restore-wizard');
    await page.goto(url(snapA, alpha));
    await expect.poll(() => page.getAttribute('section.browser', 'data-snapshot')).toBe(snapA);
    expect(await page.$('.restore-wizard')).toBeNull();
    const rows = await rowPaths();
    expect(rows).toContain(`${alpha}/only-in-alpha.txt`);
    expect(rows.some((p) => p?.startsWith(beta))).toBe(false);
    // a folder of one snapshot asked of the other: said so, no rows left from before
    await page.goto(url(snapB, alpha));
    await expect.poll(() => page.textContent('section.browser [role=alert]')).toContain('is not in snapshot');
    expect(await page.$('table.files')).toBeNull();
    await page.click('a.snapshot-root');
    await expect.poll(shownPath).toBe('/');
    expect(await page.getAttribute('section.browser', 'data-snapshot')).toBe(snapB);
    await page.goBack();
    await page.goBack();
    await expect.poll(() => page.getAttribute('section.browser', 'data-snapshot')).toBe(snapA);
    expect(await rowPaths()).toContain(`${alpha}/only-in-alpha.txt`);
  }, 60_000);

  test('the same folder in another snapshot of the same paths, from the picker; back returns to the first', async () => {
    await page.goto(url(snapA, `${alpha}/shared`));
    await expect.poll(rowPaths).toEqual([`${alpha}/shared/readme.txt`]);
    await page.selectOption('select[name=snapshot]', snapA2);
    await expect.poll(() => page.getAttribute('section.browser', 'data-snapshot')).toBe(snapA2);
    expect(await shownPath()).toBe(`${alpha}/shared`);
    expect(await rowPaths()).toEqual([`${alpha}/shared/new.txt`, `${alpha}/shared/readme.txt`]);
    expect(page.url()).toBe(url(snapA2, `${alpha}/shared`));
    await page.goBack();
    await expect.poll(() => page.getAttribute('section.browser', 'data-snapshot')).toBe(snapA);
    expect(await rowPaths()).toEqual([`${alpha}/shared/readme.txt`]);
    // beta was backed up once: nothing to pick
    await page.goto(url(snapB, beta));
    await expect.poll(shownPath).toBe(beta);
    expect(await page.$('select[name=snapshot]')).toBeNull();
  }, 60_000);

  test('a 10,000-entry folder comes a page at a time: the first page, the next, the last, the counts right', async () => {
    const many = `${alpha}/many`;
    const nameAt = (i: number) => `${many}/n${String(i).padStart(5, '0')}`;
    await page.goto(url(snapA, many));
    await expect.poll(() => page.textContent('.page-range >> nth=0')).toBe(`1–${BROWSE_PAGE_DEFAULT_ENTRIES} of ${MANY}`);
    let rows = await rowPaths();
    expect(rows).toHaveLength(BROWSE_PAGE_DEFAULT_ENTRIES);
    expect([rows[0], rows.at(-1)]).toEqual([nameAt(0), nameAt(BROWSE_PAGE_DEFAULT_ENTRIES - 1)]);
    expect(await page.$('.prev-page')).toBeNull();
    await page.click('.next-page >> nth=0');
    await expect.poll(() => page.textContent('.page-range >> nth=0')).toBe(`${BROWSE_PAGE_DEFAULT_ENTRIES + 1}–${2 * BROWSE_PAGE_DEFAULT_ENTRIES} of ${MANY}`);
    rows = await rowPaths();
    expect(rows).toHaveLength(BROWSE_PAGE_DEFAULT_ENTRIES);
    expect(rows[0]).toBe(nameAt(BROWSE_PAGE_DEFAULT_ENTRIES));
    expect(page.url()).toBe(url(snapA, many, BROWSE_PAGE_DEFAULT_ENTRIES));
    await page.goBack();
    await expect.poll(() => page.textContent('.page-range >> nth=0')).toBe(`1–${BROWSE_PAGE_DEFAULT_ENTRIES} of ${MANY}`);
    // the last page, from its URL: the rest, and no next page
    await page.goto(url(snapA, many, MANY - 150));
    await expect.poll(() => page.textContent('.page-range >> nth=0')).toBe(`${MANY - 149}–${MANY} of ${MANY}`);
    rows = await rowPaths();
    expect([rows.length, rows.at(-1)]).toEqual([150, nameAt(MANY - 1)]);
    expect(await page.$('.next-page')).toBeNull();
    await page.click('.prev-page >> nth=0');
    await expect.poll(() => page.textContent('.page-range >> nth=0')).toBe(`${MANY - 349}–${MANY - 150} of ${MANY}`);
    // the page never received the folder whole
    expect(mostEntries).toBeGreaterThan(0);
    expect(mostEntries).toBeLessThanOrEqual(BROWSE_PAGE_MAX_ENTRIES);
  }, 60_000);

  test('hostile paths in the URL stay inside the snapshot', async () => {
    await page.goto(`${agent.info.api}/#/snapshots/${snapA}/browse/..%2F..%2Fetc/`);
    await expect.poll(() => page.textContent('section.browser [role=alert]')).toContain('must not contain ".."');
    expect(await page.$('table.files')).toBeNull();
    await page.goto(`${agent.info.api}/#/snapshots/${snapA}/browse/../../etc/`);
    await expect.poll(() => page.textContent('section.browser [role=alert]')).toMatch(/must not contain "\.\."|is not in snapshot/);
    expect(await page.$('table.files')).toBeNull();
    await page.goto(`${agent.info.api}/#/snapshots/${snapA}/browse/etc/`);
    await expect.poll(() => page.textContent('section.browser [role=alert]')).toContain('/etc is not in snapshot');
    await page.goto(`${agent.info.api}/#/snapshots/${snapA}/browse/%E0%A4%A/`);
    await expect.poll(() => page.textContent('[role=alert]')).toContain('not a valid path');
  }, 60_000);

  test('a file downloads byte for byte; a folder downloads as a tar holding its files', async () => {
    await page.goto(url(snapA, alpha));
    await expect.poll(shownPath).toBe(alpha);
    const [file] = await Promise.all([page.waitForEvent('download'), page.click(`tr[data-path="${alpha}/big.bin"] a.download`)]);
    expect(file.suggestedFilename()).toBe('big.bin');
    const got = await readFile((await file.path()) as string);
    expect(got.length).toBe(big.length);
    expect(Buffer.compare(got, big)).toBe(0);

    const [folder] = await Promise.all([page.waitForEvent('download'), page.click(`tr[data-path="${alpha}/folder"] a.download`)]);
    expect(folder.suggestedFilename()).toBe('folder.tar');
    const entries = await tarEntries(await readFile((await folder.path()) as string));
    const prefix = `${alpha.slice(1)}/folder/`;
    for (const [rel, bytes] of Object.entries(folderFiles)) {
      const entry = entries.get(prefix + rel);
      expect(entry, `${prefix + rel} in ${[...entries.keys()].join(', ')}`).toBeDefined();
      expect(Buffer.compare(entry as Buffer, bytes), rel).toBe(0);
    }
    expect([...entries.keys()].filter((k) => !k.endsWith('/')).sort()).toEqual(
      Object.keys(folderFiles)
        .map((r) => prefix + r)
        .sort(),
    );

    // names that are not UTF-8: the file as it is, the folder as a tar naming its file by the exact bytes
    await page.goto(url(snapA, `${alpha}/bytes`));
    await expect.poll(shownPath).toBe(`${alpha}/bytes`);
    const links = await page.$$('table.files tbody tr a.download');
    expect(links).toHaveLength(2);
    const [raw] = await Promise.all([page.waitForEvent('download'), links[0]?.click()]);
    expect(Buffer.compare(await readFile((await raw.path()) as string), rawFileBody)).toBe(0);
    const [rawDir] = await Promise.all([page.waitForEvent('download'), links[1]?.click()]);
    const rawTar = await readFile((await rawDir.path()) as string);
    const innerPath = Buffer.concat([Buffer.from(`${alpha.slice(1)}/bytes/`), RAW_DIR, Buffer.from('/'), RAW_INNER]);
    expect(rawTar.includes(innerPath), 'the tar names the file by its exact bytes').toBe(true);
    expect(rawTar.includes(rawInnerBody)).toBe(true);

    // the whole snapshot, from its top folder
    await page.goto(url(snapA, '/'));
    await expect.poll(shownPath).toBe('/');
    const [whole] = await Promise.all([page.waitForEvent('download'), page.click('a.download-folder')]);
    expect(whole.suggestedFilename()).toBe(`snapshot-${snapA.slice(0, 8)}.tar`);
    const all = await tarEntries(await readFile((await whole.path()) as string));
    expect(Buffer.compare(all.get(`${alpha.slice(1)}/big.bin`) ?? Buffer.alloc(0), big)).toBe(0);
    expect([...all.keys()].filter((k) => k.startsWith(`${alpha.slice(1)}/many/`) && !k.endsWith('/'))).toHaveLength(MANY);
  }, 120_000);
});
