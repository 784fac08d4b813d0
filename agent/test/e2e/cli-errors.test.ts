// How the CLI treats bad input and dangerous requests: exit codes (0 ok, 1 failed, 2 usage),
// one-line errors without stack traces, refusing to clobber things.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cairn, cairnJson, cairnOk, initHome, tempDir } from '../helpers/cli.js';
import { describeResult, stderrProblems } from '../helpers/damage-cli.js';
import { deletePack, listPacks } from '../helpers/damage-packs.js';
import { compareTree, mixedTreeSpec, snapshotTree, writeSampleTree, type FileFacts } from '../helpers/sample-tree.js';

const KiB = 1024;

interface BackupJson {
  id: string;
  addedBytes: number;
  sizeBytes: number;
}

let work: string;
let home: string;
let src: string;
let facts: Map<string, FileFacts>;
let snap: BackupJson;

beforeAll(async () => {
  work = await tempDir('cairn-cli-');
  src = join(work, 'src');
  await writeSampleTree(src, mixedTreeSpec({ seed: 99, bigRandom: [300 * KiB], bigText: [100 * KiB], smallFiles: 12 }));
  facts = await snapshotTree(src);
  home = await initHome();
  snap = await cairnJson<BackupJson>(['backup', src, '--tag', 'first'], { home });
}, 120_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
  if (home) await rm(dirname(home), { recursive: true, force: true });
});

function expectCleanFailure(r: Awaited<ReturnType<typeof cairn>>, codes: number[]): void {
  expect(codes, describeResult(r)).toContain(r.code);
  expect(stderrProblems(r, 1), describeResult(r)).toEqual([]);
}

describe('usage errors exit 2', () => {
  const cases: Array<[string, string[]]> = [
    ['unknown command', ['frobnicate']],
    ['unknown option', ['snapshots', '--no-such-option']],
    ['backup without paths', ['backup']],
    ['restore without a snapshot', ['restore']],
    ['restore without --target', ['restore', 'latest']],
    ['restore with a malformed snapshot id', ['restore', 'not-a-snapshot!', '--target', '/tmp/cairn-never-used']],
    ['restore with a too-short snapshot prefix', ['restore', 'abc', '--target', '/tmp/cairn-never-used']],
    ['restore with a non-hex snapshot id', ['restore', 'zzzzzzzzzzzz', '--target', '/tmp/cairn-never-used']],
  ];
  for (const [what, args] of cases) {
    test(`${what}: cairn ${args.join(' ')}`, async () => {
      const r = await cairn(args, { home });
      expectCleanFailure(r, [2]);
    });
  }

  test('backup of a path that does not exist is bad input (2) and stores no snapshot', async () => {
    const r = await cairn(['backup', join(work, 'does-not-exist')], { home });
    expectCleanFailure(r, [2]);
    expect(r.stderr).toContain('does-not-exist');
    const list = await cairnJson<Array<{ id: string }>>(['snapshots'], { home });
    expect(list.map((s) => s.id)).toEqual([snap.id]);
  });
});

describe('snapshot references', () => {
  test('an unknown (well-formed) snapshot id fails with a one-line message', async () => {
    const unknown = snap.id.startsWith('00000000') ? 'ffffffff' : '00000000';
    const r = await cairn(['restore', unknown, '--target', join(work, 'unknown-target')], { home });
    expectCleanFailure(r, [1, 2]);
    expect(r.stderr).toContain(unknown);
    expect(await snapshotTree(join(work, 'unknown-target')).catch(() => new Map())).toEqual(new Map());
  });

  test('an 8-hex-digit prefix of a snapshot id restores that snapshot', async () => {
    const target = join(work, 'prefix-target');
    const r = await cairn(['restore', snap.id.slice(0, 8), '--target', target], { home });
    expect(r.code, describeResult(r)).toBe(0);
    expect(await compareTree(facts, join(target, src), { allowMissing: false })).toEqual([]);
  });

  test('the full snapshot id works too, and snapshots --json lists it with its tag', async () => {
    const target = join(work, 'full-id-target');
    await cairnOk(['restore', snap.id, '--target', target], { home });
    expect(await compareTree(facts, join(target, src), { allowMissing: false })).toEqual([]);
    const list = await cairnJson<Array<{ id: string; tags: string[]; paths: string[]; time: string; sizeBytes: number; addedBytes: number }>>(['snapshots'], {
      home,
    });
    const s = list.find((x) => x.id === snap.id);
    expect(s?.tags).toEqual(['first']);
    expect(s?.paths).toEqual([src]);
    expect(s?.sizeBytes).toBe(snap.sizeBytes);
    expect(s?.addedBytes).toBe(snap.addedBytes);
    expect(Number.isNaN(Date.parse(s?.time ?? ''))).toBe(false);
  });
});

describe('init', () => {
  test('init on an existing repository refuses and leaves it intact', async () => {
    const keyBefore = await readFile(join(home, 'repo', 'key.json'));
    const configBefore = await readFile(join(home, 'repo', 'config.json'));
    const r = await cairn(['init', '--json'], { home, passphrase: 'another passphrase' });
    expect(r.code, describeResult(r)).not.toBe(0);
    expect(stderrProblems(r, 1)).toEqual([]);
    expect(r.stderr).toMatch(/exist|already/i);
    expect(await readFile(join(home, 'repo', 'key.json'))).toEqual(keyBefore);
    expect(await readFile(join(home, 'repo', 'config.json'))).toEqual(configBefore);
    const list = await cairnJson<Array<{ id: string }>>(['snapshots'], { home });
    expect(list.map((s) => s.id)).toContain(snap.id);
  });

  test('init --json reports a repo id and a recovery phrase', async () => {
    const h = join(await tempDir('cairn-home-'), 'home');
    try {
      const out = await cairnJson<{ repoId: string; recoveryPhrase: string }>(['init'], { home: h });
      expect(typeof out.repoId).toBe('string');
      expect(out.repoId.length).toBeGreaterThan(0);
      expect(out.recoveryPhrase.trim().split(/\s+/).length).toBeGreaterThanOrEqual(12);
    } finally {
      await rm(dirname(h), { recursive: true, force: true });
    }
  });

  test('commands on a home without a repository fail cleanly', async () => {
    const h = join(await tempDir('cairn-home-'), 'home');
    try {
      const r = await cairn(['snapshots'], { home: h });
      expectCleanFailure(r, [1, 2]);
    } finally {
      await rm(dirname(h), { recursive: true, force: true });
    }
  });

  test('no passphrase and no terminal: fails cleanly instead of hanging', async () => {
    const r = await cairn(['snapshots'], { home, passphrase: null });
    expectCleanFailure(r, [1, 2]);
    expect(r.stderr).toMatch(/passphrase/i);
  });
});

describe('restore never clobbers silently', () => {
  test('refuses to overwrite a differing existing file without --overwrite, does with it', async () => {
    const target = join(work, 'overwrite-target');
    await cairnOk(['restore', 'latest', '--target', target], { home });
    const rel = 'big-0.bin';
    const restored = join(target, src, rel);
    const local = Buffer.from('local edits that must survive a restore without --overwrite\n');
    await writeFile(restored, local);

    const refused = await cairn(['restore', 'latest', '--target', target], { home });
    expect(refused.code, describeResult(refused)).not.toBe(0);
    expect([1, 2]).toContain(refused.code);
    expect(stderrProblems(refused, 1)).toEqual([]);
    expect(refused.stderr).toMatch(/overwrite|exist/i);
    expect(await readFile(restored), 'the existing file is unchanged').toEqual(local);

    const forced = await cairn(['restore', 'latest', '--target', target, '--overwrite'], { home });
    expect(forced.code, describeResult(forced)).toBe(0);
    expect(await compareTree(facts, join(target, src), { allowMissing: false })).toEqual([]);
  });

  test('restoring over an identical existing tree without --overwrite is not an error', async () => {
    const target = join(work, 'identical-target');
    await cairnOk(['restore', 'latest', '--target', target], { home });
    const again = await cairn(['restore', 'latest', '--target', target], { home });
    expect(again.code, describeResult(again)).toBe(0);
    expect(await compareTree(facts, join(target, src), { allowMissing: false })).toEqual([]);
  });

  test('a lost data pack: restore names the first 20 failed items, counts the rest, --json lists all; exit 1', async () => {
    const many = join(work, 'many');
    await writeSampleTree(many, {
      seed: 5,
      entries: Array.from({ length: 50 }, (_, i) => ({ kind: 'random' as const, path: `f${String(i).padStart(2, '0')}.bin`, size: 2 * KiB })),
    });
    const h = await initHome();
    await cairnOk(['backup', many], { home: h });
    const packs = await listPacks(h);
    const data = packs.reduce((a, b) => (b.size > a.size ? b : a)); // 100 KiB of random data vs a small tree pack
    await deletePack(data.path);
    const r = await cairn(['restore', 'latest', '--target', join(work, 'many-target')], { home: h });
    expect(r.code, describeResult(r)).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines.filter((l) => /^error: \//.test(l))).toHaveLength(20);
    expect(lines).toContain('error: ... and 30 more items (--json lists every one)');
    expect(lines.at(-1)).toMatch(/restore incomplete: 50 items could not be restored; first: /);
    const j = await cairn(['restore', 'latest', '--target', join(work, 'many-target-json'), '--json'], { home: h });
    expect(j.code).toBe(1);
    expect((JSON.parse(j.stdout) as { errors: string[] }).errors).toHaveLength(50);
  });

  test('--include restores only the named path', async () => {
    const target = join(work, 'include-target');
    const only = join(src, 'logs');
    await cairnOk(['restore', 'latest', '--target', target, '--include', only], { home });
    const got = await snapshotTree(join(target, src));
    const want = new Map([...facts].filter(([rel]) => rel === 'logs' || rel.startsWith('logs/')));
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    expect(await compareTree(facts, join(target, src), { allowMissing: true })).toEqual([]);
  });
});
