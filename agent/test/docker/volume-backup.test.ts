// `cairn backup volume:NAME` against the real engine, through the volume's mountpoint: content
// written by a container survives the volume's removal; containers labelled cairn.stop=true are
// stopped for the snapshot and running afterwards (also when the backup fails, and after the CLI is
// killed mid-backup); cairn.exec.before runs inside the container, its output in the job log, and a
// failing command fails the backup with its exit code and output.
import { execFile } from 'node:child_process';
import { readFile, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { HookLogEntry, VolumeBackupResult, VolumesResult } from '../../../protocol/api.js';
import { startAgent } from '../helpers/agents.js';
import { cairn, cairnJson, collect, initHome, spawnCairn, tempDir } from '../helpers/cli.js';
import { DockerScratch, describeDocker, WRITER_SCRIPT } from '../helpers/docker-env.js';
import { compareTrees, formatDiffs } from '../helpers/tree-compare.js';

describeDocker('cairn backup volume:NAME', () => {
  const scratch = new DockerScratch('backup');
  let home: string;
  let work: string;

  beforeAll(async () => {
    home = await initHome();
    work = await tempDir('cairn-docker-');
  });
  afterAll(async () => {
    await scratch.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
    if (home) await rm(dirname(home), { recursive: true, force: true });
  });

  async function mountpoint(volume: string): Promise<string> {
    const v = (await cairnJson<VolumesResult>(['volumes'], { home })).find((x) => x.name === volume);
    if (!v) throw new Error(`volume ${volume} not listed`);
    return v.mountpoint;
  }

  const stoppedFile = () => join(home, 'docker-stopped.json');
  const exists = (p: string) =>
    stat(p).then(
      () => true,
      () => false,
    );

  test('a volume written by a container: backed up, volume removed, restored content identical; a second run adds almost nothing', async () => {
    const vol = await scratch.volume('data');
    const writer = await scratch.container('writer', {
      volumes: [vol],
      mode: 'run',
      script:
        'mkdir -p /data/db/sub /data/empty && dd if=/dev/urandom of=/data/db/big bs=64k count=40 2>/dev/null && ' +
        'echo hello > /data/db/sub/small && ln -s sub/small /data/db/link && chmod 600 /data/db/sub/small && ' +
        'touch /data/empty/.keep && : > /data/zero && chown 1234:5678 /data/zero',
    });
    const mp = await mountpoint(vol);
    const expected = join(work, 'expected');
    // GNU cp -a keeps nanosecond mtimes, owners and links: the reference copy of the volume.
    await promisify(execFile)('cp', ['-a', mp, expected]);

    const first = await cairnJson<VolumeBackupResult>(['backup', `volume:${vol}`], { home });
    expect(first.tags).toEqual([`volume:${vol}`]);
    expect(first.paths).toEqual([mp]);
    expect(first.volumes).toEqual([{ name: vol, path: mp, via: 'mountpoint' }]);
    expect(first.files).toBe(4);
    const second = await cairnJson<VolumeBackupResult>(['backup', `volume:${vol}`], { home });
    expect(second.parent).toBe(first.id);
    expect(second.filesReused).toBe(4);
    expect(second.addedBytes).toBeLessThan(16 * 1024);

    await scratch.removeContainer(writer);
    await scratch.removeVolume(vol);
    expect(await exists(mp)).toBe(false);

    const target = join(work, 'restored');
    const r = await cairnJson<{ errors: string[]; warnings: string[] }>(['restore', second.id, '--target', target], { home });
    expect({ errors: r.errors, warnings: r.warnings }).toEqual({ errors: [], warnings: [] });
    const diffs = await compareTrees(expected, join(target, mp));
    expect(diffs, formatDiffs(diffs)).toEqual([]);
  });

  test('cairn.stop=true: a container writing continuously is stopped during the snapshot and running afterwards', async () => {
    const vol = await scratch.volume('busy');
    const c = await scratch.container('busy', { volumes: [vol], mode: 'detach', script: WRITER_SCRIPT, labels: { 'cairn.stop': 'true' } });
    await new Promise((r) => setTimeout(r, 500));
    const before = await scratch.inspect(c);
    expect(before.State.Running).toBe(true);

    const res = await cairnJson<VolumeBackupResult>(['backup', `volume:${vol}`], { home });
    const after = await scratch.inspect(c);
    expect(after.State.Running).toBe(true);
    // Restarted: it was stopped (FinishedAt) after the first start and started again after that.
    expect(Date.parse(after.State.FinishedAt)).toBeGreaterThan(Date.parse(before.State.StartedAt));
    expect(Date.parse(after.State.StartedAt)).toBeGreaterThan(Date.parse(after.State.FinishedAt));
    expect(res.log.map((e) => [e.container, e.action])).toEqual([
      [c, 'stop'],
      [c, 'start'],
    ]);
    // The snapshot was taken while it was down: it began after the stop and ended before the start.
    const stopAt = Date.parse(res.log[0]!.time);
    const startAt = Date.parse(res.log[1]!.time);
    expect(Date.parse(res.time)).toBeGreaterThanOrEqual(stopAt);
    expect(Date.parse(res.time)).toBeLessThanOrEqual(startAt);
    expect(Date.parse(after.State.FinishedAt)).toBeLessThanOrEqual(stopAt + 1000);
    // The file was not changing while it was read, and the last line is whole.
    expect(res.warnings).toEqual([]);
    expect(await exists(stoppedFile())).toBe(false);
  });

  test('cairn.pause=true: paused for the snapshot, unpaused afterwards', async () => {
    const vol = await scratch.volume('paused');
    const c = await scratch.container('paused', { volumes: [vol], mode: 'detach', script: WRITER_SCRIPT, labels: { 'cairn.pause': 'true' } });
    const res = await cairnJson<VolumeBackupResult>(['backup', `volume:${vol}`], { home });
    expect(res.log.map((e) => [e.container, e.action])).toEqual([
      [c, 'pause'],
      [c, 'unpause'],
    ]);
    const after = await scratch.inspect(c);
    expect({ running: after.State.Running, paused: after.State.Paused }).toEqual({ running: true, paused: false });
  });

  test('through a running agent: the same op, hooks run by the agent, job log in the result', async () => {
    const agent = await startAgent('docker');
    try {
      const vol = await scratch.volume('agent');
      const c = await scratch.container('agent', {
        volumes: [vol],
        mode: 'detach',
        script: WRITER_SCRIPT,
        labels: { 'cairn.stop': 'true', 'cairn.exec.before': 'echo from-agent-exec' },
      });
      const r = await cairn(['backup', `volume:${vol}`, '--json'], { home: agent.home });
      expect(r.code, r.stderr).toBe(0);
      const res = JSON.parse(r.stdout) as VolumeBackupResult;
      expect(res.log.map((e) => e.action)).toEqual(['exec.before', 'stop', 'start']);
      expect(r.stderr).toContain('  | from-agent-exec');
      expect((await scratch.inspect(c)).State.Running).toBe(true);
      const listed = await agent.cli<VolumesResult>(['volumes']);
      expect(listed.find((v) => v.name === vol)?.lastSnapshot?.id).toBe(res.id);
      const fail = await cairn(['backup', `volume:${vol}`, '--tag', 'x', join(work, 'missing')], { home: agent.home });
      expect(fail.code).toBe(2);
      expect((await scratch.inspect(c)).State.Running).toBe(true);
    } finally {
      await agent.stop();
      await rm(dirname(agent.home), { recursive: true, force: true });
    }
  });

  test('the container is running again when the backup fails midway (after the stop)', async () => {
    const vol = await scratch.volume('failmid');
    const c = await scratch.container('failmid', { volumes: [vol], mode: 'detach', script: WRITER_SCRIPT, labels: { 'cairn.stop': 'true' } });
    // The archiver rejects the missing path only after the containers were stopped.
    const r = await cairn(['backup', `volume:${vol}`, join(work, 'does-not-exist')], { home });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cannot back up');
    expect(r.stderr).toMatch(/stop: stopped for the snapshot[\s\S]*start: started again/);
    expect((await scratch.inspect(c)).State.Running).toBe(true);
    expect(await exists(stoppedFile())).toBe(false);
  });

  test('cairn.exec.before runs inside the container first, its output in the job log and the result', async () => {
    const vol = await scratch.volume('dump');
    const c = await scratch.container('db', {
      volumes: [vol],
      mode: 'detach',
      script: WRITER_SCRIPT,
      labels: { 'cairn.exec.before': 'echo "dumping $(hostname)"; cat /data/log | wc -l > /data/dump.txt; echo to-stderr >&2', 'cairn.stop': 'true' },
    });
    const r = await cairn(['backup', `volume:${vol}`, '--json'], { home });
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout) as VolumeBackupResult;
    const exec = res.log.find((e) => e.action === 'exec.before') as HookLogEntry;
    expect(exec).toMatchObject({ container: c, exitCode: 0 });
    expect(exec.output).toContain('dumping ');
    expect(exec.output).toContain('to-stderr');
    expect(res.log.map((e) => e.action)).toEqual(['exec.before', 'stop', 'start']);
    // Printed as the job log on stderr.
    expect(r.stderr).toContain(`${c}: exec.before:`);
    expect(r.stderr).toContain('  | dumping ');
    // What it wrote inside the container is in the snapshot.
    const ls = await cairnJson<Array<{ path: string }>>(['ls', res.id], { home });
    expect(ls.some((e) => e.path.endsWith('/dump.txt'))).toBe(true);
    expect((await scratch.inspect(c)).State.Running).toBe(true);
  });

  test('a failing cairn.exec.before fails the backup with its exit code and output; the container keeps running', async () => {
    const vol = await scratch.volume('execfail');
    const c = await scratch.container('execfail', {
      volumes: [vol],
      mode: 'detach',
      script: WRITER_SCRIPT,
      labels: { 'cairn.exec.before': 'echo pg_dump: connection refused >&2; exit 3', 'cairn.stop': 'true' },
    });
    const before = await cairnJson<unknown[]>(['snapshots'], { home });
    const r = await cairn(['backup', `volume:${vol}`], { home });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cairn: exec.before in container ${c} exited 3`);
    expect(r.stderr).toContain('pg_dump: connection refused');
    expect((await scratch.inspect(c)).State.Running).toBe(true);
    expect(await cairnJson<unknown[]>(['snapshots'], { home })).toHaveLength(before.length);
  });

  test('an exec hook past its timeout (cairn.exec.timeout) fails the backup; a failing exec.after fails it after the snapshot was saved', async () => {
    const vol = await scratch.volume('slow');
    const c = await scratch.container('slow', {
      volumes: [vol],
      mode: 'detach',
      script: WRITER_SCRIPT,
      labels: { 'cairn.exec.before': 'echo started; sleep 30', 'cairn.exec.timeout': '1s' },
    });
    const r = await cairn(['backup', `volume:${vol}`], { home });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cairn: exec.before in container ${c} did not finish within 1s: echo started; sleep 30 — output: started`);
    await scratch.removeContainer(c);

    const vol2 = await scratch.volume('after');
    const c2 = await scratch.container('after', {
      volumes: [vol2],
      mode: 'detach',
      script: WRITER_SCRIPT,
      labels: { 'cairn.stop': 'true', 'cairn.exec.after': 'echo after-ran; exit 5' },
    });
    const r2 = await cairn(['backup', `volume:${vol2}`], { home });
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(new RegExp(`cairn: exec.after in container ${c2} exited 5: .* — output: after-ran \\(snapshot [0-9a-f]{8} was saved\\)`));
    expect((await scratch.inspect(c2)).State.Running).toBe(true);
  });

  test('a CLI killed during the snapshot leaves a record; the next volume backup starts the container again', async () => {
    const big = await scratch.volume('big');
    await scratch.container('fill', { volumes: [big], mode: 'run', script: 'dd if=/dev/urandom of=/data/blob bs=1M count=96 2>/dev/null' });
    const c = await scratch.container('victim', {
      volumes: [`${big}:/big`],
      mode: 'detach',
      script: 'trap "exit 0" TERM; while true; do sleep 0.1; done',
      labels: { 'cairn.stop': 'true' },
    });

    const child = spawnCairn(['backup', `volume:${big}`], { home });
    const done = collect(child);
    await new Promise<void>((resolveStop, reject) => {
      let err = '';
      child.stderr?.on('data', (b: Buffer) => {
        err += b.toString();
        if (err.includes('stop: stopped for the snapshot')) {
          child.kill('SIGKILL');
          resolveStop();
        }
      });
      child.on('close', () => reject(new Error(`cairn exited before the stop: ${err}`)));
    });
    const killed = await done;
    expect(killed.signal).toBe('SIGKILL');
    expect((await scratch.inspect(c)).State.Running).toBe(false);
    const record = JSON.parse(await readFile(stoppedFile(), 'utf8')) as { containers: Array<{ name: string; action: string }> };
    expect(record.containers.map((x) => [x.name, x.action])).toEqual([[c, 'stopped']]);

    // Any later volume backup first starts what an interrupted one left stopped.
    const other = await scratch.volume('other');
    const res = await cairnJson<VolumeBackupResult>(['backup', `volume:${other}`], { home });
    expect(res.log[0]).toMatchObject({ container: c, action: 'recover' });
    expect((await scratch.inspect(c)).State.Running).toBe(true);
    expect(await exists(stoppedFile())).toBe(false);
  });
});
