// Stopping the agent (SIGTERM, as `docker compose stop` sends) cancels its running jobs instead of
// waiting for them (issue 21): with a long ad-hoc backup running and a source's run waiting for the
// write lock, the agent stops; both jobs are recorded "cancelled because the agent is stopping"
// (not left running, which the next start would mark failed), the CLI that followed the backup says
// so, no snapshot was written, and `check` finds the repository clean after the restart.
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import type { CheckResult, Job, JobStreamEvent, SnapshotsResult } from '../../../protocol/api.js';
import { startAgent, type TestAgent } from '../helpers/agents.js';
import { collect, spawnCairn, tempDir } from '../helpers/cli.js';

const MIB = 1024 * 1024;
const BIG_FILES = 300;
const STOPPING = 'cancelled because the agent is stopping';

describe('agent stop with jobs running', () => {
  let agent: TestAgent | undefined;
  afterAll(async () => {
    await agent?.stop();
  });

  test('SIGTERM cancels a running ad-hoc backup and a queued source run: both recorded cancelled, no snapshot, check clean', async () => {
    const work = await tempDir('cairn-agent-stop-');
    const big = join(work, 'big');
    const small = join(work, 'small');
    await mkdir(big);
    await mkdir(small);
    for (let i = 0; i < BIG_FILES; i++) await writeFile(join(big, `f${String(i).padStart(3, '0')}.bin`), randomBytes(MIB));
    await writeFile(join(small, 'a.txt'), 'small\n');
    agent = await startAgent('stop', { configYaml: `sources:\n  - name: smallsrc\n    paths: [${small}]\n` });
    const first = agent;

    const child = spawnCairn(['backup', big, '--json-progress'], { home: first.home });
    const done = collect(child);
    let backupJob = '';
    let stopped: Promise<unknown> | undefined;
    let runJob: Job | undefined;
    let pending = '';
    child.stdout?.on('data', (b: Buffer) => {
      pending += b.toString('utf8');
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const e = JSON.parse(pending.slice(0, nl)) as JobStreamEvent;
        pending = pending.slice(nl + 1);
        if (e.type === 'job') backupJob = e.job.id;
        // packs stored, more to come: a source run queues behind it on the write lock, then the agent is stopped
        if (!stopped && e.type === 'progress' && e.progress.bytes >= 48 * MIB) {
          stopped = (async () => {
            runJob = await first.cli<Job>(['run', 'smallsrc']);
            const exited = new Promise((r) => first.proc.once('exit', (code, signal) => r({ code, signal })));
            first.proc.kill('SIGTERM');
            return exited;
          })();
        }
      }
    });
    const r = await done;
    expect(stopped, `the backup ended before 48 MiB were reported: ${r.stderr}`).toBeDefined();
    expect(await stopped).toEqual({ code: 0, signal: null });
    expect(r.code, r.stderr).not.toBe(0);
    expect(r.stderr).toContain(STOPPING);
    expect(first.log()).not.toMatch(/still running/);

    agent = await startAgent('stop', { home: first.home, existing: { recoveryPhrase: first.recoveryPhrase } });
    const jobs = await agent.cli<Job[]>(['jobs']);
    const backup = jobs.find((j) => j.id === backupJob);
    expect(backup).toMatchObject({ kind: 'backup', trigger: 'ad-hoc', state: 'cancelled', error: STOPPING, snapshot: null });
    expect(jobs.find((j) => j.id === runJob?.id)).toMatchObject({ kind: 'backup', source: 'smallsrc', state: 'cancelled', error: STOPPING, snapshot: null });
    expect(await agent.cli<SnapshotsResult>(['snapshots'])).toHaveLength(0);
    const check = await agent.cli<CheckResult>(['check']);
    expect(check.problems.filter((p) => p.severity === 'error')).toEqual([]);
  }, 300_000);
});
