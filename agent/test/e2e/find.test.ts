// `cairn find PATTERN...` across snapshots (issue 21 item 4, restic's find): a name glob, a path-end
// glob and a whole-path glob (the rule of backup excludes), -i for any case, restic's snapshot
// filters, the matches grouped per snapshot, and a cap on what one find lists (10,000 matches, then
// "truncated"). Real CLI, real repository.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { FIND_MAX_MATCHES, type FindResult } from '../../../protocol/api.js';
import { cairn, cairnJson, initHome, tempDir } from '../helpers/cli.js';

let work: string;
let home: string;
let src: string;
let many: string;
const ids: string[] = [];

async function put(rel: string, text = rel): Promise<void> {
  await mkdir(dirname(join(src, rel)), { recursive: true });
  await writeFile(join(src, rel), text);
}

beforeAll(async () => {
  work = await tempDir('cairn-find-');
  src = join(work, 'src');
  home = await initHome();
  await put('db/dump.sql');
  await put('db/conf/main.conf');
  await put('docs/Report.PDF');
  ids.push((await cairnJson<{ id: string }>(['backup', src, '--tag', 'first'], { home })).id);
  await put('db/later.sql');
  ids.push((await cairnJson<{ id: string }>(['backup', src, '--tag', 'second'], { home })).id);
  // a third source with more entries than one find lists
  many = join(work, 'many');
  await mkdir(many, { recursive: true });
  for (let i = 0; i < FIND_MAX_MATCHES + 50; i++) await writeFile(join(many, `f${i}.log`), '');
  await cairnJson(['backup', many], { home });
}, 300_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
  if (home) await rm(dirname(home), { recursive: true, force: true });
});

const find = (args: string[]) => cairnJson<FindResult>(['find', ...args], { home });
const paths = (r: FindResult) => r.snapshots.map((s) => [s.id, s.matches.map((m) => m.path)]);

test('a name glob matches in every snapshot that has it, grouped per snapshot', async () => {
  const r = await find(['*.sql']);
  expect(r.searched).toBe(3);
  expect(r.truncated).toBe(false);
  expect(paths(r)).toEqual([
    [ids[0], [`${src}/db/dump.sql`]],
    [ids[1], [`${src}/db/dump.sql`, `${src}/db/later.sql`]],
  ]);
});

test('a path-end glob, a whole-path glob, -i, and the snapshot filters', async () => {
  expect(paths(await find(['conf/*.conf']))).toEqual([
    [ids[0], [`${src}/db/conf/main.conf`]],
    [ids[1], [`${src}/db/conf/main.conf`]],
  ]);
  expect(paths(await find([`${src}/db/*`, '--tag', 'first']))).toEqual([[ids[0], [`${src}/db/conf`, `${src}/db/dump.sql`]]]);
  expect((await find(['report.pdf'])).snapshots).toEqual([]);
  expect(paths(await find(['-i', 'report.pdf', '--tag', 'second']))).toEqual([[ids[1], [`${src}/docs/Report.PDF`]]]);
  // several patterns: any of them
  expect(paths(await find(['later.sql', 'main.conf', '--tag', 'second']))).toEqual([[ids[1], [`${src}/db/conf/main.conf`, `${src}/db/later.sql`]]]);
});

test('no match says so in words; more than the cap lists the cap and says it was cut', async () => {
  const none = await cairn(['find', 'nothing-like-this'], { home });
  expect(none.code).toBe(0);
  expect(none.stdout).toMatch(/^no match \(3 snapshots searched\)$/m);
  const r = await find(['f*.log']);
  expect(r.truncated).toBe(true);
  expect(r.snapshots.reduce((n, s) => n + s.matches.length, 0)).toBe(FIND_MAX_MATCHES);
  const human = await cairn(['find', 'f*.log'], { home });
  expect(human.stdout).toMatch(/only the first 10000 are listed: narrow the pattern/);
});
