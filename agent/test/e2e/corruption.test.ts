// Damaged storage must never turn into silently wrong restores. For every pack of a real backup
// (data packs and metadata packs alike), in a fresh copy of the home, we flip single bytes,
// truncate the pack and delete it, then require:
//   - `check --read-data` exits 1 and names the damaged pack;
//   - `restore latest` either fails (exit 1) with a clean error naming the pack or an affected
//     file, or (only if it could genuinely do without the damaged bytes) succeeds with a target
//     identical to the source. In both cases every file it wrote is byte-identical to the source.
// Seed: CAIRN_TEST_SEED (default below) — every offset and every byte of the tree derives from it.
import { rm } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cairn, cairnJson, initHome, tempDir, type CliResult } from '../helpers/cli.js';
import { describeResult, stderrProblems } from '../helpers/damage-cli.js';
import { copyHome, deletePack, flipByte, headerRegion, listPacks, truncatePack, type PackFile } from '../helpers/damage-packs.js';
import { compareTree, mixedTreeSpec, Rng, snapshotTree, writeSampleTree, type FileFacts } from '../helpers/sample-tree.js';

const SEED = Number(process.env.CAIRN_TEST_SEED ?? 20261123);
const MiB = 1024 * 1024;
const RANDOM_FLIPS_PER_PACK = 2;

let work: string;
let home: string;
let src: string;
let facts: Map<string, FileFacts>;
let packs: PackFile[];
let fileNames: string[];
let caseNo = 0;
/** What check and restore did in each damage case (printed at the end, for the record). */
const outcomes: string[] = [];

interface BackupJson {
  id: string;
  addedBytes: number;
  sizeBytes: number;
}

beforeAll(async () => {
  work = await tempDir('cairn-corrupt-');
  src = join(work, 'src');
  // ~26 MiB incompressible (two 16 MiB data packs' worth), 4 MiB of compressible text, 60 small files.
  await writeSampleTree(src, mixedTreeSpec({ seed: SEED, bigRandom: [12 * MiB, 9 * MiB, 5 * MiB], bigText: [4 * MiB], smallFiles: 60 }));
  facts = await snapshotTree(src);
  fileNames = [...facts.entries()].filter(([, f]) => f.kind === 'file').map(([rel]) => rel);
  home = await initHome();
  const b = await cairnJson<BackupJson>(['backup', src], { home });
  expect(b.id).toMatch(/^[0-9a-f]{8,64}$/);
  packs = await listPacks(home);
}, 300_000);

afterAll(async () => {
  const restored = outcomes.filter((o) => o.endsWith('restore 0'));
  console.log(`${outcomes.length} damage cases; restore succeeded (exactly, since no problem was reported) in ${restored.length}:\n  ${restored.join('\n  ')}`);
  if (work) await rm(work, { recursive: true, force: true });
  if (home) await rm(dirname(home), { recursive: true, force: true });
});

/** Does this output mention the pack (full ID, or a prefix of at least 8 hex digits)? */
function mentionsPack(text: string, id: string): boolean {
  if (text.includes(id)) return true;
  for (const m of text.matchAll(/[0-9a-f]{8,64}/g)) if (id.startsWith(m[0])) return true;
  return false;
}

function mentionsAffectedFile(text: string): boolean {
  return fileNames.some((rel) => text.includes(rel) || text.includes(join(src, rel)));
}

/**
 * Runs check and restore against `copy` (a home whose pack `pack` has been damaged) and returns
 * every violated expectation.
 */
async function verifyDamaged(label: string, copy: string, pack: PackFile, target: string): Promise<string[]> {
  const problems: string[] = [];
  const check = await cairn(['check', '--read-data'], { home: copy });
  if (check.code !== 1) problems.push(`${label}: check --read-data should exit 1, got ${describeResult(check)}`);
  if (!check.stdout.includes(pack.id) && !check.stderr.includes(pack.id)) {
    problems.push(`${label}: check --read-data output does not name pack ${pack.id}: ${describeResult(check)}`);
  }
  if (/^\s+at\s+\S/m.test(check.stderr)) problems.push(`${label}: check printed a stack trace: ${describeResult(check)}`);

  const restore: CliResult = await cairn(['restore', 'latest', '--target', target], { home: copy });
  const restoredSrc = join(target, src);
  outcomes.push(`${label}: check ${check.code}, restore ${restore.code}`);
  if (restore.code === 0) {
    // Only acceptable when the damaged bytes were genuinely not needed: then the restore must be complete and exact.
    const diff = await compareTree(facts, restoredSrc, { allowMissing: false });
    if (diff.length > 0) problems.push(`${label}: restore exited 0 but the target is not identical to the source:\n    ${diff.slice(0, 10).join('\n    ')}`);
  } else {
    if (restore.code !== 1) problems.push(`${label}: restore should exit 1 on damaged data, got ${describeResult(restore)}`);
    // One line per item that could not be restored (plus a summary) is fine; stack traces and
    // multi-line dumps are not.
    for (const p of stderrProblems(restore, facts.size + 1)) problems.push(`${label}: restore error report: ${p}`);
    if (!mentionsPack(restore.stderr, pack.id) && !mentionsAffectedFile(restore.stderr)) {
      problems.push(`${label}: restore error names neither pack ${pack.id} nor an affected file: ${describeResult(restore)}`);
    }
    const diff = await compareTree(facts, restoredSrc, { allowMissing: true });
    if (diff.length > 0) problems.push(`${label}: restore wrote wrong data:\n    ${diff.slice(0, 10).join('\n    ')}`);
  }
  return problems;
}

async function damageCase(pack: PackFile, label: string, damage: (path: string) => Promise<void>): Promise<string[]> {
  const dir = join(work, `case-${++caseNo}`);
  const copy = join(dir, 'home');
  await copyHome(home, copy);
  const path = join(copy, relative(home, pack.path));
  await damage(path);
  try {
    return await verifyDamaged(`pack ${pack.id} (${pack.size} bytes), ${label}`, copy, pack, join(dir, 'target'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function report(problems: string[]): string {
  return problems.length === 0 ? '' : `${problems.length} problem(s):\n  ${problems.join('\n  ')}`;
}

describe('corruption of stored packs', () => {
  test('the fixture spans several data packs and at least one metadata pack', () => {
    const big = packs.filter((p) => p.size >= 4 * MiB);
    const small = packs.filter((p) => p.size < 4 * MiB);
    expect(big.length, `packs: ${packs.map((p) => `${p.id.slice(0, 8)}=${p.size}`).join(', ')}`).toBeGreaterThanOrEqual(2);
    expect(small.length).toBeGreaterThanOrEqual(1);
    for (const p of packs) expect(p.size).toBeLessThanOrEqual(20 * MiB);
  });

  test('an undamaged copy passes check --read-data and restores exactly', async () => {
    const dir = join(work, 'pristine');
    const copy = join(dir, 'home');
    await copyHome(home, copy);
    const check = await cairn(['check', '--read-data'], { home: copy });
    expect(check.code, describeResult(check)).toBe(0);
    const target = join(dir, 'target');
    const restore = await cairn(['restore', 'latest', '--target', target], { home: copy });
    expect(restore.code, describeResult(restore)).toBe(0);
    expect(await compareTree(facts, join(target, src), { allowMissing: false })).toEqual([]);
    await rm(dir, { recursive: true, force: true });
  }, 120_000);

  test('a flipped byte anywhere in any pack is detected and never restored', async () => {
    const rng = new Rng(SEED ^ 0xf11b);
    const problems: string[] = [];
    for (const pack of packs) {
      const header = await headerRegion(pack);
      const offsets = [0, pack.size - 1, Math.floor(pack.size / 2)];
      for (let i = 0; i < RANDOM_FLIPS_PER_PACK; i++) offsets.push(rng.int(pack.size));
      for (const offset of offsets) {
        const mask = rng.range(1, 255);
        const where = header && offset >= header.start ? 'header/trailer' : offset < 8 ? 'magic' : 'blob area';
        problems.push(
          ...(await damageCase(pack, `byte ${offset} (${where}) xor 0x${mask.toString(16)}`, (p) => flipByte(p, offset, mask).then(() => undefined))),
        );
      }
    }
    expect(report(problems)).toBe('');
  }, 900_000);

  test('a truncated pack is detected and never restored', async () => {
    const problems: string[] = [];
    for (const pack of packs) {
      for (const length of [Math.floor(pack.size / 2), pack.size - 1, 0]) {
        problems.push(...(await damageCase(pack, `truncated to ${length} bytes`, (p) => truncatePack(p, length))));
      }
    }
    expect(report(problems)).toBe('');
  }, 900_000);

  test('a deleted pack is detected and never restored', async () => {
    const problems: string[] = [];
    for (const pack of packs) problems.push(...(await damageCase(pack, 'deleted', deletePack)));
    expect(report(problems)).toBe('');
  }, 600_000);

  test('a data pack that loses its blobs makes restore fail, not succeed', async () => {
    // Guards against a restore that "succeeds" by skipping what it cannot read: deleting the
    // biggest pack (file data) must make restore exit non-zero.
    const biggest = [...packs].sort((a, b) => b.size - a.size)[0] as PackFile;
    const dir = join(work, 'must-fail');
    const copy = join(dir, 'home');
    await copyHome(home, copy);
    await deletePack(join(copy, relative(home, biggest.path)));
    const restore = await cairn(['restore', 'latest', '--target', join(dir, 'target')], { home: copy });
    expect(restore.code, describeResult(restore)).toBe(1);
    await rm(dir, { recursive: true, force: true });
  }, 120_000);
});

describe('wrong passphrase', () => {
  for (const args of [['snapshots', '--json'], ['snapshots'], ['restore', 'latest', '--target', '@TARGET@'], ['check'], ['backup', '@SRC@']]) {
    test(`cairn ${args.join(' ')} with a wrong passphrase fails cleanly`, async () => {
      const target = join(work, `wrong-pass-target-${++caseNo}`);
      const before = (await listPacks(home)).map((p) => p.id);
      const r = await cairn(
        args.map((a) => (a === '@TARGET@' ? target : a === '@SRC@' ? src : a)),
        { home, passphrase: 'wrong' },
      );
      expect(r.code, describeResult(r)).toBe(1);
      expect(stderrProblems(r, 1)).toEqual([]);
      expect(r.stderr).toMatch(/passphrase/i);
      expect(r.stdout.trim(), 'nothing on stdout (in particular no snapshot list)').toBe('');
      expect(await snapshotTree(target).catch(() => new Map()), 'restore wrote nothing').toEqual(new Map());
      expect(
        (await listPacks(home)).map((p) => p.id),
        'no packs written',
      ).toEqual(before);
    });
  }

  test('the right passphrase still works afterwards', async () => {
    const list = await cairnJson<Array<{ id: string }>>(['snapshots'], { home });
    expect(list.length).toBe(1);
  });
});
