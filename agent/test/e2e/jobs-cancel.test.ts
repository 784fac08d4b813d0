// Every run through the agent is a job you can watch and stop (issue 21 item 1), with the real
// binary against a real agent: an ad-hoc backup shows in `cairn jobs`; --json-progress streams JSON
// lines (the job, progress events, the result); Ctrl-C (SIGINT to the CLI) during a large backup
// cancels its job ("cancelled", exit 130, no snapshot) and the next backup reuses the packs it had
// stored; `cairn jobs cancel ID` (the console's 6-character ID) stops a restore, leaving only whole
// files.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { BackupResult, Job, JobStreamEvent, SnapshotsResult } from '../../../protocol/api.js';
import { startAgent, type TestAgent } from '../helpers/agents.js';
import { cairn, collect, spawnCairn, tempDir } from '../helpers/cli.js';

const MIB = 1024 * 1024;
const BIG_FILES = 160;

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
    agent = await startAgent('jobs');
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

  test('`cairn jobs cancel` with the short ID stops a running restore: the job ends cancelled, the restore fails saying so, only whole files are left', async () => {
    const target = join(work, 'restored');
    const child = spawnCairn(['restore', 'latest', '--path', big, '--target', target, '--json-progress'], { home: agent.home });
    const done = collect(child);
    let jobId = '';
    let cancelled: Promise<Awaited<ReturnType<typeof cairn>>> | undefined;
    jsonLines(child, (e) => {
      if (e.type === 'job') jobId = e.job.id;
      if (!cancelled && e.type === 'progress' && e.progress.bytes >= 8 * MIB)
        cancelled = cairn(['jobs', 'cancel', jobId.slice(-6), '--wait', '--json'], { home: agent.home });
    });
    const r = await done;
    expect(cancelled, `the restore ended before it was cancelled: ${r.stdout.slice(-400)}`).toBeDefined();
    const c = await cancelled!;
    expect(c.code, c.stderr).toBe(0);
    expect((JSON.parse(c.stdout) as Job).state).toBe('cancelled');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cancelled by cairn jobs cancel/);
    const job = await agent.cli<Job>(['jobs', 'show', jobId]);
    expect(job).toMatchObject({ kind: 'restore', trigger: 'ad-hoc', state: 'cancelled' });
    const dir = join(target, big);
    const left = (await readdir(dir)).filter((n) => n.endsWith('.bin'));
    expect(left.length).toBeLessThan(BIG_FILES);
    for (const name of left) expect((await readFile(join(dir, name))).equals(await readFile(join(big, name))), name).toBe(true);
  });
});
