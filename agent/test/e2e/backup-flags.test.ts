// restic's backup flags (issue 21 item 4): --exclude and --exclude-file, --one-file-system (a tmpfs
// mounted inside the tree: its mountpoint stays, empty), --dry-run (nothing written: no pack, no
// snapshot, no index entry) and --stdin --stdin-filename (one file, dumped and restored back byte
// for byte). In this process and through the running agent (stdin streamed to its API).
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { BackupResult, Job, LsEntry, StatsResult } from '../../../protocol/api.js';
import type { SnapshotListing } from '../../../protocol/snapshot.js';
import { startAgent, type TestAgent } from '../helpers/agents.js';
import { CAIRN_BIN, cairn, cairnJson, collect, initHome, tempDir, TEST_PASSPHRASE, type CliResult } from '../helpers/cli.js';

let work: string;
let src: string;
let home: string;
let agent: TestAgent | undefined;
let mounted = false;
const isRoot = process.getuid?.() === 0;

beforeAll(async () => {
  work = await tempDir('cairn-backup-flags-');
  src = join(work, 'src');
  for (const [rel, text] of Object.entries({ 'a.txt': 'a\n', 'b.tmp': 'b\n', 'cache/x': 'x\n', 'keep/y': 'y\n', 'keep/z.log': 'z\n', 'mnt/.keep': '' })) {
    await mkdir(dirname(join(src, rel)), { recursive: true });
    await writeFile(join(src, rel), text);
  }
  home = await initHome();
}, 60_000);

afterAll(async () => {
  await agent?.stop();
  if (mounted) execFileSync('umount', [join(src, 'mnt')]);
  if (work) await rm(work, { recursive: true, force: true });
  if (home) await rm(dirname(home), { recursive: true, force: true });
});

/** `cairn ARGS` with `input` on its standard input. */
function cairnWithStdin(args: string[], input: Buffer): Promise<CliResult> {
  const child = spawn(process.execPath, [CAIRN_BIN, ...args], {
    env: { ...(process.env as Record<string, string>), CAIRN_HOME: home, CAIRN_PASSPHRASE: TEST_PASSPHRASE },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const done = collect(child);
  child.stdin!.on('error', () => undefined); // a command refused at once closes its stdin early (EPIPE)
  // in pieces, as a pipe from pg_dump would give it
  void (async () => {
    for (let off = 0; off < input.length; off += 100_000) {
      if (!child.stdin!.write(input.subarray(off, off + 100_000))) await new Promise((r) => child.stdin!.once('drain', r));
    }
    child.stdin!.end();
  })();
  return done;
}

const paths = async (snap: string) => (await cairnJson<LsEntry[]>(['ls', snap], { home })).map((e) => e.path).filter((p) => p.startsWith(src));
const packs = async () => (await readdir(join(home, 'repo', 'packs'), { recursive: true })).sort();

async function stdinRoundTrip(name: string): Promise<void> {
  const data = randomBytes(3 * 1024 * 1024 + 11);
  const r = await cairnWithStdin(['backup', '--stdin', '--stdin-filename', name, '--tag', 'db', '--json'], data);
  expect(r.code, r.stderr).toBe(0);
  const b = JSON.parse(r.stdout) as BackupResult;
  expect(b.paths).toEqual([`/${name}`]);
  expect(b.sizeBytes).toBe(data.length);
  expect(await cairnJson<LsEntry[]>(['ls', b.id], { home })).toMatchObject([{ path: `/${name}`, type: 'file', size: data.length, mode: 0o644 }]);
  const dumped = await cairn(['dump', b.id, `/${name}`], { home });
  expect(dumped.code, dumped.stderr).toBe(0);
  expect(Buffer.compare(dumped.stdoutBytes, data)).toBe(0);
  const target = join(work, `restored-${name}`);
  await cairnJson(['restore', b.id, '--target', target], { home });
  expect(Buffer.compare(await readFile(join(target, name)), data)).toBe(0);
}

async function checks(via: string): Promise<void> {
  // --exclude and --exclude-file (comments, blank lines, spaces around a pattern)
  const list = join(work, `excludes-${via}`);
  await writeFile(list, '# caches\n\ncache\n   *.log  \nnew-*.bin\n');
  const ex = await cairnJson<BackupResult>(['backup', src, '--exclude', '*.tmp', '--exclude-file', list], { home });
  expect((await paths(ex.id)).sort()).toEqual(
    [src, `${src}/a.txt`, `${src}/keep`, `${src}/keep/y`, `${src}/mnt`, `${src}/mnt/${mounted ? 'inside.txt' : '.keep'}`].sort(),
  );

  // --dry-run: says what would be stored, writes nothing
  await writeFile(join(src, `new-${via}.bin`), randomBytes(200_000));
  const before = {
    packs: await packs(),
    snaps: await cairnJson<SnapshotListing[]>(['snapshots'], { home }),
    stats: await cairnJson<StatsResult>(['stats'], { home }),
  };
  const dry = await cairnJson<BackupResult>(['backup', src, '--dry-run'], { home });
  expect(dry).toMatchObject({ dryRun: true, id: '' });
  expect(dry.filesRead).toBeGreaterThanOrEqual(1);
  expect(dry.addedBytes).toBeGreaterThanOrEqual(200_000);
  const words = await cairn(['backup', src, '-n'], { home });
  expect(words.stdout).toMatch(/^dry run: would store \d+ files .*; nothing was written\n$/);
  expect(await packs()).toEqual(before.packs);
  expect(await cairnJson<SnapshotListing[]>(['snapshots'], { home })).toEqual(before.snaps);
  expect(await cairnJson<StatsResult>(['stats'], { home })).toEqual(before.stats);
  // nothing was held back either: the real backup after it stores the new file's data itself
  const real = await cairnJson<BackupResult>(['backup', src], { home });
  expect(real.addedBytes).toBeGreaterThanOrEqual(200_000);

  // --stdin --stdin-filename: one file, back byte for byte
  await stdinRoundTrip(`${via}.sql`);

  // mistakes, in one line with exit 2
  for (const bad of [
    ['backup', '--stdin', src],
    ['backup', '--stdin', '--stdin-filename', 'a/b'],
    ['backup', src, '--stdin-filename', 'x'],
    ['backup'],
    ['backup', 'volume:v', '--dry-run'],
  ]) {
    const r = await cairnWithStdin(bad, Buffer.alloc(0));
    expect(r.code, `${bad.join(' ')}: ${r.stderr}`).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  }
}

describe('cairn backup: restic flags', () => {
  test.skipIf(!isRoot)(
    '--one-file-system: a tmpfs mounted inside the tree is not crossed, its mountpoint stays empty',
    async () => {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', join(src, 'mnt')]);
      mounted = true;
      await writeFile(join(src, 'mnt', 'inside.txt'), 'on tmpfs\n');
      const all = await cairnJson<BackupResult>(['backup', src], { home });
      expect(await paths(all.id)).toContain(`${src}/mnt/inside.txt`);
      const one = await cairnJson<BackupResult>(['backup', src, '--one-file-system'], { home });
      const got = await paths(one.id);
      expect(got).toContain(`${src}/mnt`);
      expect(got).toContain(`${src}/keep/y`);
      expect(got.filter((p) => p.startsWith(`${src}/mnt/`))).toEqual([]);
      const x = await cairnJson<BackupResult>(['backup', src, '-x'], { home });
      expect(await paths(x.id)).toEqual(got);
      const help = await cairn(['backup', '--help'], { home });
      expect(help.stdout).toContain('pg_dump mydb | cairn backup --stdin --stdin-filename mydb.sql');
    },
    120_000,
  );

  test('in process: --exclude, --exclude-file, --dry-run, --stdin', async () => {
    await checks('local');
  }, 180_000);

  test("through the running agent's API: the same, stdin streamed", async () => {
    agent = await startAgent('backup-flags', { home, existing: { recoveryPhrase: '' } });
    await checks('agent');
    // the stdin backup through the agent was a job like any ad-hoc backup, its snapshot recorded
    const jobs = await cairnJson<Job[]>(['jobs'], { home });
    const stdinJob = jobs.find((j) => j.label === '/agent.sql from standard input');
    expect(stdinJob, JSON.stringify(jobs.map((j) => j.label))).toMatchObject({ kind: 'backup', trigger: 'ad-hoc', state: 'succeeded', source: '/agent.sql' });
    expect(stdinJob?.snapshot).toMatch(/^[0-9a-f]{64}$/);

    // the client killed mid-stream: the agent commits nothing of it, and the next stdin backup
    // (which waits for the write lock the broken one held) is the only new snapshot
    const before = (await cairnJson<SnapshotListing[]>(['snapshots'], { home })).length;
    const child = spawn(process.execPath, [CAIRN_BIN, 'backup', '--stdin', '--stdin-filename', 'cut.sql'], {
      env: { ...(process.env as Record<string, string>), CAIRN_HOME: home, CAIRN_PASSPHRASE: TEST_PASSPHRASE },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const cut = collect(child);
    child.stdin.on('error', () => undefined); // EPIPE once it is killed
    child.stdin.write(randomBytes(2 * 1024 * 1024));
    await new Promise((r) => setTimeout(r, 1500)); // some of it on its way (the outcome must not depend on how much)
    child.kill('SIGKILL');
    expect((await cut).signal).toBe('SIGKILL');
    await stdinRoundTrip('after-cut.sql');
    const after = await cairnJson<SnapshotListing[]>(['snapshots'], { home });
    expect(after).toHaveLength(before + 1);
    expect(after.map((s) => s.paths[0])).not.toContain('/cut.sql');
  }, 240_000);
});
