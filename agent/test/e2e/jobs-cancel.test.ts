// Every run through the agent is a job you can watch and stop (issue 21 item 1), with the real
// binary against a real agent: an ad-hoc backup shows in `cairn jobs`; --json-progress streams JSON
// lines (the job, progress events, the result); Ctrl-C (SIGINT to the CLI) during a large backup
// cancels its job ("cancelled", exit 130, no snapshot) and the next backup reuses the packs it had
// stored; `cairn jobs cancel ID` (the console's 6-character ID) stops a restore, leaving only whole
// files.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { BackupResult, Job, JobStreamEvent, SnapshotsResult } from '../../../protocol/api.js';
import { startAgent, type TestAgent } from '../helpers/agents.js';
import { CAIRN_BIN, cairn, collect, ROOT, spawnCairn, tempDir, TEST_PASSPHRASE } from '../helpers/cli.js';

const MIB = 1024 * 1024;
// enough that a restore from a warm page cache on a quiet machine still runs when Ctrl-C comes
// (at 160 MiB it had ended before the cancel arrived)
const BIG_FILES = 400;
/** Bytes pushed through the stdin backup before it is sure to be read inside the write lock (more than the pipe and socket buffers hold). */
const STDIN_PROBE_BYTES = 64 * MIB;

/**
 * Holds the agent's repository write lock: a `cairn backup --stdin` whose input stays open. The
 * agent reads the body only while it holds the lock, so once STDIN_PROBE_BYTES went through, it has
 * it. release() ends the input (that backup then commits) and waits for the command.
 */
async function holdWriteLock(home: string): Promise<{ release: () => Promise<void> }> {
  const child = spawn(process.execPath, [CAIRN_BIN, 'backup', '--stdin', '--stdin-filename', 'lock-holder'], {
    env: { ...process.env, CAIRN_HOME: home, CAIRN_PASSPHRASE: TEST_PASSPHRASE },
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const done = collect(child);
  const chunk = Buffer.alloc(MIB, 7);
  for (let sent = 0; sent < STDIN_PROBE_BYTES; sent += chunk.length)
    await new Promise<void>((r, j) => child.stdin?.write(chunk, (err) => (err ? j(err) : r())));
  let released: Promise<void> | undefined;
  return {
    release: () =>
      (released ??= (async () => {
        child.stdin?.end();
        const r = await done;
        if (r.code !== 0) throw new Error(`the lock-holding stdin backup exited ${r.code}: ${r.stderr}`);
      })()),
  };
}

/** Parses the child's stdout as JSON lines while it runs, handing each event to `on`. */
function jsonLines(child: ReturnType<typeof spawnCairn>, on: (e: JobStreamEvent) => void): void {
  let pending = '';
  child.stdout?.on('data', (b: Buffer) => {
    pending += b.toString('utf8');
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.trim() !== '') on(JSON.parse(line) as JobStreamEvent);
    }
  });
}

describe('jobs through the agent: watch and stop', () => {
  let agent: TestAgent;
  let work: string;
  let big: string;
  beforeAll(async () => {
    work = await tempDir('cairn-jobs-cancel-');
    big = join(work, 'big');
    await mkdir(big);
    // incompressible, so packs (16 MiB) are written while the backup runs
    for (let i = 0; i < BIG_FILES; i++) await writeFile(join(big, `f${String(i).padStart(3, '0')}.bin`), randomBytes(MIB));
    agent = await startAgent('jobs', { configYaml: `sources:\n  - name: bigsrc\n    paths: [${big}]\n` });
  });
  afterAll(async () => {
    await agent?.stop();
  });

  test('an ad-hoc backup through the agent is a job in `cairn jobs`; --json-progress prints the job, then the result, one object a line', async () => {
    const small = join(work, 'small');
    await mkdir(small);
    await writeFile(join(small, 'a.txt'), 'hello\n');
    const r = await agent.cli<BackupResult>(['backup', small]);
    const jobs = await agent.cli<Job[]>(['jobs']);
    const job = jobs.find((j) => j.snapshot === r.id);
    expect(job).toMatchObject({ kind: 'backup', trigger: 'ad-hoc', state: 'succeeded', label: small });
    expect(job?.log.some((l) => l.includes(`snapshot ${r.shortId}`))).toBe(true);
    // the console's short ID works for `jobs show`
    const shown = await agent.cli<Job>(['jobs', 'show', job!.id.slice(-6)]);
    expect(shown.id).toBe(job!.id);

    await writeFile(join(small, 'b.txt'), 'more\n');
    const out = await cairn(['backup', small, '--json-progress'], { home: agent.home });
    expect(out.code, out.stderr).toBe(0);
    const events = out.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as JobStreamEvent);
    expect(events[0]?.type).toBe('job');
    const last = events.at(-1);
    expect(last?.type).toBe('result');
    expect((last as { result: BackupResult }).result.files).toBe(2);
  });

  test('Ctrl-C during a large backup cancels its job: exit 130 saying "cancelled", no snapshot, and the next backup reuses what was stored', async () => {
    const before = await agent.cli<SnapshotsResult>(['snapshots']);
    const child = spawnCairn(['backup', big, '--json-progress'], { home: agent.home });
    const done = collect(child);
    const seen: JobStreamEvent[] = [];
    let sent = false;
    jsonLines(child, (e) => {
      seen.push(e);
      // enough stored for whole packs to be written before the interrupt
      if (!sent && e.type === 'progress' && e.progress.bytes >= 48 * MIB) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    const r = await done;
    expect(sent, `the backup ended before 48 MiB were reported: ${r.stdout.slice(-400)}`).toBe(true);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/cancelled/);
    const jobId = (seen[0] as { job: Job }).job.id;
    expect(seen.filter((e) => e.type === 'progress').length).toBeGreaterThan(0);
    const job = await agent.cli<Job>(['jobs', 'show', jobId]);
    expect(job).toMatchObject({ state: 'cancelled', snapshot: null, error: 'cancelled by Ctrl-C' });
    expect((await agent.cli<SnapshotsResult>(['snapshots'])).length).toBe(before.length);

    const again = await agent.cli<BackupResult>(['backup', big]);
    expect(again.files).toBe(BIG_FILES);
    expect(again.addedBytes).toBeLessThan(BIG_FILES * MIB - 16 * MIB); // at least a pack's worth reused
    expect((await agent.cli<SnapshotsResult>(['snapshots'])).length).toBe(before.length + 1);
  });

  test('a CLI killed while it follows a job does not stop it: the agent finishes the restore', async () => {
    const target = join(work, 'restored-anyway');
    const child = spawnCairn(['restore', 'latest', '--path', big, '--target', target, '--json-progress'], { home: agent.home });
    const done = collect(child);
    let jobId = '';
    jsonLines(child, (e) => {
      if (e.type === 'job') {
        jobId = e.job.id;
        child.kill('SIGKILL');
      }
    });
    await done;
    expect(jobId).not.toBe('');
    let job: Job | undefined;
    for (let i = 0; i < 600 && job?.state !== 'succeeded' && job?.state !== 'failed'; i++) {
      job = await agent.cli<Job>(['jobs', 'show', jobId]);
      if (job.state === 'running') await new Promise((r) => setTimeout(r, 200));
    }
    expect(job).toMatchObject({ kind: 'restore', state: 'succeeded' });
    expect(agent.proc.exitCode).toBeNull();
    expect((await readdir(join(target, big))).filter((n) => n.endsWith('.bin'))).toHaveLength(BIG_FILES);
  });

  test('Ctrl-C during a restore through the agent cancels its job: exit 130, only whole files are left', async () => {
    const target = join(work, 'restored');
    const child = spawnCairn(['restore', 'latest', '--path', big, '--target', target, '--json-progress'], { home: agent.home });
    const done = collect(child);
    let jobId = '';
    let sent = false;
    jsonLines(child, (e) => {
      if (e.type === 'job') jobId = e.job.id;
      if (!sent && e.type === 'progress' && e.progress.bytes >= 8 * MIB) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    const r = await done;
    expect(sent, `the restore ended before 8 MiB were reported: ${r.stdout.slice(-400)}`).toBe(true);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/cancelled/);
    expect(await agent.cli<Job>(['jobs', 'show', jobId])).toMatchObject({ kind: 'restore', trigger: 'ad-hoc', state: 'cancelled' });
    const dir = join(target, big);
    const left = (await readdir(dir)).filter((n) => n.endsWith('.bin'));
    expect(left.length).toBeLessThan(BIG_FILES);
    for (const name of left) expect((await readFile(join(dir, name))).equals(await readFile(join(big, name))), name).toBe(true);
  });

  test('`cairn jobs cancel` with the short ID stops a backup waiting for the write lock: it ends cancelled, its command fails saying so, no snapshot', async () => {
    const lock = await holdWriteLock(agent.home);
    try {
      const small = join(work, 'queued');
      await mkdir(small);
      await writeFile(join(small, 'q.txt'), 'queued\n');
      const child = spawnCairn(['backup', small, '--json-progress'], { home: agent.home });
      const done = collect(child);
      let jobId = '';
      let cancelled: ReturnType<typeof cairn> | undefined;
      jsonLines(child, (e) => {
        if (e.type !== 'job') return;
        jobId = e.job.id;
        cancelled = cairn(['jobs', 'cancel', jobId.slice(-6), '--json'], { home: agent.home });
      });
      await expect.poll(() => cancelled !== undefined, { timeout: 30_000 }).toBe(true);
      const c = await cancelled!;
      expect(c.code, c.stderr).toBe(0);
      await lock.release();
      const r = await done;
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/cancelled by cairn jobs cancel/);
      expect(await agent.cli<Job>(['jobs', 'show', jobId])).toMatchObject({ kind: 'backup', state: 'cancelled', snapshot: null });
      expect((await agent.cli<SnapshotsResult>(['snapshots', '--path', small])).length).toBe(0);
    } finally {
      await lock.release();
    }
  });

  test("Ctrl-C during `cairn run SOURCE --wait` cancels the source's job (waiting for the write lock): exit 130, job cancelled, no snapshot of the source", async () => {
    const lock = await holdWriteLock(agent.home);
    try {
      const child = spawnCairn(['run', 'bigsrc', '--wait'], { home: agent.home });
      const done = collect(child);
      let running: Job | undefined;
      for (let i = 0; i < 300 && !running; i++) {
        const [j] = await agent.cli<Job[]>(['jobs', '--source', 'bigsrc']);
        if (j?.state === 'running') running = j;
      }
      expect(running, 'the source run never showed as running').toBeDefined();
      child.kill('SIGINT');
      await expect
        .poll(async () => (await agent.cli<Job>(['jobs', 'show', running!.id])).log.join('\n'), { timeout: 30_000 })
        .toMatch(/cancel asked by Ctrl-C/);
      await lock.release();
      const r = await done;
      expect(r.code, r.stderr).toBe(130);
      expect(r.stderr).toMatch(/cancelled/);
      expect(await agent.cli<Job>(['jobs', 'show', running!.id])).toMatchObject({ state: 'cancelled', error: 'cancelled by Ctrl-C' });
      expect((await agent.cli<SnapshotsResult>(['snapshots', '--source', 'bigsrc'])).length).toBe(0);
    } finally {
      await lock.release();
    }
  });
});
