// `cairn stats` (issue 21 item 4, restic's stats): the restore size of the snapshots the filter
// matches, and what the whole repository stores: unique data counted once however often it occurs,
// stored bytes after compression and encryption, and the local pack files. Real CLI and repository.
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { StatsResult } from '../../../protocol/api.js';
import { cairn, cairnJson, initHome, tempDir } from '../helpers/cli.js';
import { listPacks } from '../helpers/damage-packs.js';

const MiB = 1024 * 1024;
let work: string;
let home: string;

beforeAll(async () => {
  work = await tempDir('cairn-stats-');
  const src = join(work, 'src');
  await mkdir(src, { recursive: true });
  const random = randomBytes(3 * MiB);
  await writeFile(join(src, 'a.bin'), random);
  await writeFile(join(src, 'copy-of-a.bin'), random); // the same bytes: stored once
  await writeFile(join(src, 'notes.txt'), Buffer.alloc(MiB, 'the same line again\n')); // 1 MiB that compresses
  home = await initHome();
  await cairnJson(['backup', src, '--tag', 'one'], { home });
  await cairnJson(['backup', src, '--tag', 'two'], { home }); // nothing new
}, 120_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
  if (home) await rm(dirname(home), { recursive: true, force: true });
});

test('restore size adds up the snapshots; unique data is counted once; packs are what is on disk', async () => {
  const r = await cairnJson<StatsResult>(['stats'], { home });
  expect(r.snapshots).toBe(2);
  expect(r.restoreSize).toEqual({ files: 6, bytes: 2 * 7 * MiB });
  expect(r.stored.rawBytes).toBe(4 * MiB);
  expect(r.dedupRatio).toBeCloseTo(14 / 4, 5);
  expect(r.compressionRatio).toBeGreaterThan(1);
  expect(r.stored.storedBytes).toBeLessThan(r.stored.rawBytes);
  const packs = await listPacks(home);
  expect(r.stored.packs).toBe(packs.length);
  expect(r.stored.packBytes).toBe(packs.reduce((n, p) => n + p.size, 0));
  expect(r.stored.treeBlobs).toBeGreaterThan(0);
});

test('a filter narrows the snapshots counted, not the repository; the text says it in words', async () => {
  const one = await cairnJson<StatsResult>(['stats', '--tag', 'one'], { home });
  const all = await cairnJson<StatsResult>(['stats'], { home });
  expect(one.snapshots).toBe(1);
  expect(one.restoreSize.bytes).toBe(7 * MiB);
  expect(one.stored).toEqual(all.stored);
  const text = await cairn(['stats'], { home });
  expect(text.code).toBe(0);
  expect(text.stdout).toMatch(/restore size: +14\.0 MiB in 6 files/);
  expect(text.stdout).toMatch(/deduplication: +3\.50x/);
});
