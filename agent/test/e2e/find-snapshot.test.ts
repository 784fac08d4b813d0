// Finding the right snapshot (issue 21 item 3), through the real CLI: `latest` and `snapshots`
// narrow by --path, --tag, --host and --latest N; restic's SNAP:subpath form; a restore whose
// --include matches nothing exits 2 saying so (it restored 0 files and exited 0 before).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import type { SnapshotsResult } from '../../../protocol/api.js';
import { cairn, cairnJson, initHome, tempDir } from '../helpers/cli.js';

describe('finding the right snapshot', () => {
  let home = '';
  let work = '';
  let data = '';
  let docs = '';
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    home = await initHome();
    work = await tempDir('cairn-find-');
    data = join(work, 'srv', 'data');
    docs = join(work, 'docs');
    mkdirSync(join(data, 'db'), { recursive: true });
    mkdirSync(docs);
    writeFileSync(join(data, 'db', 'table'), 'rows v1');
    writeFileSync(join(docs, 'a.txt'), 'docs v1');
    ids.data1 = (await cairnJson<{ id: string }>(['backup', data, '--tag', 'db', '--tag', 'nightly', '--json'], { home })).id;
    writeFileSync(join(data, 'db', 'table'), 'rows v2');
    ids.data2 = (await cairnJson<{ id: string }>(['backup', data, '--tag', 'db', '--json'], { home })).id;
    // the newest snapshot overall is of another path: a global `latest` would pick it
    ids.docs = (await cairnJson<{ id: string }>(['backup', docs, '--tag', 'nightly', '--json'], { home })).id;
  }, 120_000);

  test('restore latest --path takes the newest snapshot of that path, not the newest overall', async () => {
    const target = join(work, 'r1');
    const r = await cairn(['restore', 'latest', '--path', data, '--target', target, '--include', join(data, 'db')], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(target, data, 'db', 'table'), 'utf8')).toBe('rows v2');
  });

  test('an --include that matches nothing exits 2 and says so', async () => {
    const r = await cairn(['restore', 'latest', '--target', join(work, 'r2'), '--include', join(data, 'db')], { home });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--include .*\/srv\/data\/db matches nothing in snapshot [0-9a-f]{8} \(its paths: .*docs\)/);
  });

  test('SNAP:subpath restores the contents of that directory into the target', async () => {
    const target = join(work, 'r3');
    const r = await cairn(['restore', `latest:${join(data, 'db')}`, '--path', data, '--target', target], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(target, 'table'), 'utf8')).toBe('rows v2');
    const old = await cairn(['restore', `${ids.data1?.slice(0, 8)}:${join(data, 'db')}`, '--target', join(work, 'r4')], { home });
    expect(old.code, old.stderr).toBe(0);
    expect(readFileSync(join(work, 'r4', 'table'), 'utf8')).toBe('rows v1');
  });

  test('snapshots narrow by tag (comma = all of them, repeated = any group), path, host and --latest N', async () => {
    const list = async (...args: string[]) => (await cairnJson<SnapshotsResult>(['snapshots', '--json', ...args], { home })).map((s) => s.id);
    expect(await list('--tag', 'nightly')).toEqual([ids.data1, ids.docs]);
    expect(await list('--tag', 'db,nightly')).toEqual([ids.data1]);
    expect(await list('--tag', 'db,nightly', '--tag', 'nightly')).toEqual([ids.data1, ids.docs]);
    expect(await list('--path', data)).toEqual([ids.data1, ids.data2]);
    expect(await list('--host', 'no-such-host')).toEqual([]);
    expect(await list('--latest', '1')).toEqual([ids.data2, ids.docs]);
    const bad = await cairn(['snapshots', '--latest', '0'], { home });
    expect(bad.code).toBe(2);
  });

  test('latest with a filter nothing matches fails with a line naming the filter', async () => {
    const r = await cairn(['restore', 'latest', '--tag', 'weekly', '--target', join(work, 'r5')], { home });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no snapshot matches tags weekly/);
  });
});
