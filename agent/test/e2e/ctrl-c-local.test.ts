// Ctrl-C without an agent (issue 21 item 1): a `cairn backup` or `cairn restore` running in its own
// process (no agent.json) stops at its next safe point on SIGINT and exits 130 with one line saying
// the operation was cancelled and what remains, as a job followed through the agent does
// (e2e/jobs-cancel.test.ts): the cancelled backup wrote no snapshot and the next one reuses what it
// had stored; the cancelled restore left only whole files.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import type { BackupResult, JobStreamEvent, SnapshotsResult } from '../../../protocol/api.js';
import { cairnJson, collect, initHome, spawnCairn, tempDir } from '../helpers/cli.js';

const MIB = 1024 * 1024;
const BIG_FILES = 400;

/** Runs `args` with --json-progress and sends SIGINT once a progress event reports `bytes` or more; the command's outcome. */
async function interruptAt(home: string, args: string[], bytes: number) {
  const child = spawnCairn([...args, '--json-progress'], { home });
  const done = collect(child);
  let sent = false;
  let pending = '';
  child.stdout?.on('data', (b: Buffer) => {
    pending += b.toString('utf8');
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      const e = JSON.parse(line) as JobStreamEvent;
      if (!sent && e.type === 'progress' && e.progress.bytes >= bytes) {
        sent = true;
        child.kill('SIGINT');
      }
    }
  });
  const r = await done;
  return { ...r, sent };
}

describe('Ctrl-C in a command that runs the operation itself (no agent)', () => {
  let home: string;
  let big: string;
  beforeAll(async () => {
    const work = await tempDir('cairn-ctrl-c-');
    big = join(work, 'big');
    await mkdir(big);
    // incompressible, so packs (16 MiB) are written while the backup runs
    for (let i = 0; i < BIG_FILES; i++) await writeFile(join(big, `f${String(i).padStart(3, '0')}.bin`), randomBytes(MIB));
    home = await initHome();
  }, 120_000);

  test('backup: exit 130 with "backup cancelled: no snapshot was written; ...", no snapshot, and the next backup reuses what was stored', async () => {
    const r = await interruptAt(home, ['backup', big], 48 * MIB);
    expect(r.sent, `the backup ended before 48 MiB were reported: ${r.stderr}`).toBe(true);
    expect([r.code, r.signal], r.stderr).toEqual([130, null]);
    expect(r.stderr).toMatch(/^cairn: backup cancelled: no snapshot was written; the data already stored is reused by the next backup$/m);
    expect(await cairnJson<SnapshotsResult>(['snapshots'], { home })).toHaveLength(0);
    const again = await cairnJson<BackupResult>(['backup', big], { home });
    expect(again.files).toBe(BIG_FILES);
    expect(again.addedBytes).toBeLessThan(BIG_FILES * MIB - 16 * MIB); // at least a pack's worth reused
  }, 300_000);

  test('restore: exit 130 with "restore cancelled: the files restored so far are whole ...", only whole files left', async () => {
    const target = join(await tempDir('cairn-ctrl-c-restore-'), 'r');
    const r = await interruptAt(home, ['restore', 'latest', '--target', target], 1); // the first progress event: a 400 MiB restore still runs
    expect(r.sent, `the restore ended before its first progress event: ${r.stderr}`).toBe(true);
    expect([r.code, r.signal], r.stderr).toEqual([130, null]);
    expect(r.stderr).toMatch(/^cairn: restore cancelled: the files restored so far are whole/m);
    const dir = join(target, big);
    const left = (await readdir(dir)).filter((n) => n.endsWith('.bin'));
    expect(left.length).toBeLessThan(BIG_FILES);
    for (const name of left) expect((await readFile(join(dir, name))).equals(await readFile(join(big, name))), name).toBe(true);
  }, 300_000);
});
