// `cairn restore SNAP --to-volume NAME` against the real engine: a volume backed up from A and
// restored into a new volume B is identical (content, mode, owner, mtime to the second: volumes are
// stored in the portable profile, SPEC 6.1), symlinks that
// point outside come back as symlinks and nothing is written outside the volume; an existing volume
// is refused without --force, and with --force its containers are stopped and started again and it
// ends up equal to the snapshot (extra files deleted); --dry-run changes nothing and shows how the
// volume was used (the docker inspect kept with the backup). Also: an agent killed after stopping a
// container for a backup starts it again when it is restarted.
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { VolumeBackupResult, VolumeRestoreResult, VolumesResult } from '../../../protocol/api.js';
import { startAgent } from '../helpers/agents.js';
import type { SnapshotMeta } from '../../../protocol/snapshot.js';
import { BlobType } from '../../src/repo/blob.js';
import { openStores } from '../../src/compose-root.js';
import { cairn, cairnJson, collect, initHome, spawnCairn, tempDir, TEST_PASSPHRASE } from '../helpers/cli.js';
import { DockerScratch, describeDocker, docker } from '../helpers/docker-env.js';
import { compareTrees, formatDiffs } from '../helpers/tree-compare.js';

/** The metadata blob of a snapshot, read from the repository in this process (no agent may hold the home). */
async function snapshotMeta(home: string, id: string): Promise<SnapshotMeta> {
  const stores = await openStores(home, TEST_PASSPHRASE);
  const repo = stores.repo;
  try {
    const { snapshot } = await repo.resolveSnapshot(id);
    return JSON.parse((await repo.loadBlob(snapshot.meta as string, BlobType.data)).toString('utf8')) as SnapshotMeta;
  } finally {
    await stores.close();
  }
}

const IDLE_SCRIPT = 'trap "exit 0" TERM; while true; do sleep 0.1; done';

/** name -> "type mtime-ns size" of every entry directly in `dir` (a fingerprint that any write changes). */
async function fingerprint(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const self = await lstat(dir, { bigint: true });
  out['.'] = `${self.mtimeNs} ${self.ctimeNs}`;
  for (const name of (await readdir(dir)).sort()) {
    const st = await lstat(join(dir, name), { bigint: true });
    out[name] = `${st.mode} ${st.mtimeNs} ${st.ctimeNs} ${st.size}`;
  }
  return out;
}

describeDocker('cairn restore --to-volume', () => {
  const scratch = new DockerScratch('restore');
  let home: string;
  let work: string;
  /** Volumes made by restores (not through the scratch), removed at the end. */
  const made: string[] = [];

  beforeAll(async () => {
    home = await initHome();
    work = await tempDir('cairn-volrestore-');
  });
  afterAll(async () => {
    await scratch.cleanup();
    for (const v of made) await docker(['volume', 'rm', '-f', v]).catch(() => undefined);
    if (work) await rm(work, { recursive: true, force: true });
    if (home) await rm(dirname(home), { recursive: true, force: true });
  });

  async function mountpoint(volume: string): Promise<string> {
    return (await docker(['volume', 'inspect', '--format', '{{.Mountpoint}}', volume])).trim();
  }

  test('a volume with symlinks pointing out and a "..." file: restored into a new volume identical, nothing written outside; --force replaces an existing one', async () => {
    const volA = await scratch.volume('src');
    const fill = await scratch.container('fill', {
      volumes: [volA],
      mode: 'run',
      script:
        'mkdir -p /data/db/sub /data/empty && dd if=/dev/urandom of=/data/db/big bs=64k count=8 2>/dev/null && echo hello > /data/db/sub/small && ' +
        'chmod 640 /data/db/sub/small && chown 999:998 /data/db/sub/small && chmod 2750 /data/db && ln -s /etc /data/evil && ln -s ../../.. /data/up && ' +
        'ln -s /etc/passwd /data/db/pw && echo dots > /data/... && mkdir /data/..d && echo x > /data/..d/... && chmod 711 /data',
    });
    await scratch.removeContainer(fill);
    const user = await scratch.container('user', { volumes: [`${volA}:/srv/data`], mode: 'detach', script: IDLE_SCRIPT });
    const mpA = await mountpoint(volA);
    const backup = await cairnJson<VolumeBackupResult>(['backup', `volume:${volA}`], { home });
    // The docker inspect of the containers mounting it is kept, and summarised in the result.
    expect(backup.usage).toEqual([
      { volume: volA, containers: [{ name: user, image: 'cairn-test-busybox:latest', state: 'running', destination: '/srv/data', rw: true }] },
    ]);
    // The full record is the snapshot's metadata blob, in the repository (nothing kept beside it).
    expect(backup.meta).toMatch(/^[0-9a-f]{64}$/);
    expect(existsSync(join(home, 'volume-inspect'))).toBe(false);
    const kept = await snapshotMeta(home, backup.id);
    expect(kept.volumes?.[0]?.containers[0]).toMatchObject({ Name: `/${user}` });
    expect(kept.volumes?.[0]).toMatchObject({ name: volA, path: mpA, via: 'mountpoint' });

    const volB = scratch.name('new');
    const volumesRoot = dirname(dirname(mpA));
    const rootBefore = await fingerprint(volumesRoot);
    const etcBefore = await fingerprint('/etc');

    // Dry run: nothing is created; shows how the volume was used and what would be created.
    const dry = await cairn(['restore', backup.id, '--to-volume', volB, '--dry-run'], { home });
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`volume ${volB}: does not exist, would be created`);
    expect(dry.stdout).toContain(`${user} (image cairn-test-busybox:latest, running) at /srv/data`);
    expect(dry.stdout).toContain('  + /evil');
    expect(dry.stdout).toContain('  + /..d/...');
    await expect(docker(['volume', 'inspect', volB])).rejects.toThrow();

    made.push(volB);
    const r = await cairnJson<VolumeRestoreResult>(['restore', backup.id, '--to-volume', volB], { home });
    expect({ errors: r.errors, warnings: r.warnings, created: r.createdVolume, from: r.fromVolume }).toEqual({
      errors: [],
      warnings: [],
      created: true,
      from: volA,
    });
    const mpB = await mountpoint(volB);
    expect(r.mountpoint).toBe(mpB);
    const diffs = await compareTrees(mpA, mpB);
    expect(diffs, formatDiffs(diffs)).toEqual([]);
    expect(await readlink(join(mpB, 'evil'))).toBe('/etc');
    expect(await readlink(join(mpB, 'up'))).toBe('../../..');
    expect((await lstat(join(mpB, 'evil'))).isSymbolicLink()).toBe(true);
    // Nothing outside the new volume changed: /etc, and the volumes root (but for B's own directory).
    expect(await fingerprint('/etc')).toEqual(etcBefore);
    // (Entries of other test processes, running in parallel, and the engine's own metadata.db, aside.)
    const ours = (fp: Record<string, string>) =>
      Object.fromEntries(
        Object.entries(fp).filter(([k]) => k !== '.' && k !== 'metadata.db' && k !== volB && (!k.startsWith('cairn-t-') || k.startsWith(scratch.prefix))),
      );
    expect(ours(await fingerprint(volumesRoot))).toEqual(ours(rootBefore));
    expect(await readdir(dirname(mpB))).toEqual(['_data']);

    // B exists now: refused without --force, one line, exit 2.
    const refused = await cairn(['restore', backup.id, '--to-volume', volB], { home });
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim().split('\n')).toEqual([
      `cairn: volume ${volB} exists: use --force to replace its content with the snapshot's, or --dry-run to see what would change`,
    ]);

    // Change B under a running container: a file changed, one added, a directory replaced by a
    // symlink to a sentinel directory outside (which must stay untouched).
    const sentinel = join(work, 'sentinel');
    await mkdir(sentinel);
    await writeFile(join(sentinel, 'keep'), 'sentinel');
    const sentinelBefore = await fingerprint(sentinel);
    await writeFile(join(mpB, '...'), 'changed!');
    await mkdir(join(mpB, 'extra', 'deep'), { recursive: true });
    await writeFile(join(mpB, 'extra', 'deep', 'z'), 'z');
    await rm(join(mpB, 'db'), { recursive: true });
    await symlink(sentinel, join(mpB, 'db'));
    const userB = await scratch.container('userb', { volumes: [volB], mode: 'detach', script: IDLE_SCRIPT });

    const dry2 = await cairnJson<VolumeRestoreResult>(['restore', backup.id, '--to-volume', volB, '--dry-run'], { home });
    expect(dry2.createdVolume).toBe(false);
    expect(dry2.stopped).toEqual([userB]);
    expect(dry2.changes.deleted).toEqual(['/extra', '/extra/deep', '/extra/deep/z']);
    expect(dry2.changes.replaced.sort()).toEqual(['/...', '/db']);
    expect(dry2.changes.created).toEqual(expect.arrayContaining(['/db/big', '/db/sub', '/db/sub/small', '/db/pw']));
    expect(await readFile(join(mpB, '...'), 'utf8')).toBe('changed!');

    const before = await scratch.inspect(userB);
    const forced = await cairn(['restore', backup.id, '--to-volume', volB, '--force', '--json'], { home });
    expect(forced.code, forced.stderr).toBe(0);
    const fr = JSON.parse(forced.stdout) as VolumeRestoreResult;
    expect(fr.log.map((e) => [e.container, e.action])).toEqual([
      [userB, 'stop'],
      [userB, 'start'],
    ]);
    expect(forced.stderr).toContain('stopped for the restore');
    const after = await scratch.inspect(userB);
    expect(after.State.Running).toBe(true);
    expect(Date.parse(after.State.StartedAt)).toBeGreaterThan(Date.parse(before.State.StartedAt));
    const diffs2 = await compareTrees(mpA, mpB);
    expect(diffs2, formatDiffs(diffs2)).toEqual([]);
    expect(await fingerprint(sentinel)).toEqual(sentinelBefore);
    expect(await fingerprint('/etc')).toEqual(etcBefore);
    expect(existsSync(join(home, 'docker-stopped.json'))).toBe(false);

    // The source volume removed: restored into a volume of the same name, identical again.
    await scratch.removeContainer(user);
    await scratch.removeVolume(volA);
    expect(existsSync(mpA)).toBe(false);
    await cairnJson<VolumeRestoreResult>(['restore', backup.id, '--to-volume', volA], { home });
    const diffs3 = await compareTrees(mpB, await mountpoint(volA));
    expect(diffs3, formatDiffs(diffs3)).toEqual([]);
  });

  test('a snapshot of several volumes needs --from-volume, naming the volumes it holds; one without volumes is refused', async () => {
    const x = await scratch.volume('x');
    const y = await scratch.volume('y');
    await scratch.container('fillxy', { volumes: [`${x}:/x`, `${y}:/y`], mode: 'run', script: 'echo x > /x/x && echo y > /y/y' });
    const b = await cairnJson<VolumeBackupResult>(['backup', `volume:${x}`, `volume:${y}`], { home });
    const target = scratch.name('xy');
    const r = await cairn(['restore', b.id, '--to-volume', target], { home });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`cairn: snapshot ${b.shortId} holds 2 volumes (${[x, y].sort().join(', ')}): choose one with --from-volume NAME`);
    made.push(target);
    const ok = await cairnJson<VolumeRestoreResult>(['restore', b.id, '--to-volume', target, '--from-volume', y], { home });
    expect(ok.fromVolume).toBe(y);
    expect(await readdir(await mountpoint(target))).toEqual(['y']);

    const plain = join(work, 'plain');
    await mkdir(plain);
    const p = await cairnJson<{ id: string; shortId: string }>(['backup', plain], { home });
    const np = await cairn(['restore', p.id, '--to-volume', scratch.name('np')], { home });
    expect(np.code).toBe(2);
    expect(np.stderr).toContain(`snapshot ${p.shortId} holds no Docker volume`);
    const both = await cairn(['restore', p.id, '--to-volume', 'v', '--target', work], { home });
    expect(both.code).toBe(2);
  });

  test('an agent killed after stopping a cairn.stop container starts it again when it is restarted', async () => {
    const vol = await scratch.volume('killed');
    await scratch.container('fillk', { volumes: [vol], mode: 'run', script: 'dd if=/dev/urandom of=/data/blob bs=1M count=48 2>/dev/null' });
    const c = await scratch.container('victim', { volumes: [vol], mode: 'detach', script: IDLE_SCRIPT, labels: { 'cairn.stop': 'true' } });
    const agent = await startAgent('dockerkill');
    const agentHome = agent.home;
    try {
      const stoppedFile = join(agentHome, 'docker-stopped.json');
      const client = collect(spawnCairn(['backup', `volume:${vol}`], { home: agentHome }));
      // Killed once the container is recorded and down, while the snapshot is being made.
      let killed = false;
      for (let i = 0; i < 1200 && !killed; i++) {
        if (existsSync(stoppedFile) && !(await scratch.inspect(c)).State.Running) {
          agent.proc.kill('SIGKILL');
          killed = true;
        } else await sleep(25);
      }
      expect(killed, 'the container was never seen stopped').toBe(true);
      await client;
      await sleep(300);
      expect((await scratch.inspect(c)).State.Running).toBe(false);
      expect(existsSync(stoppedFile)).toBe(true);

      await rm(join(agentHome, 'agent.json'), { force: true });
      const again = await startAgent('dockerkill', { home: agentHome, existing: { recoveryPhrase: agent.recoveryPhrase } });
      try {
        let running = false;
        for (let i = 0; i < 300 && !running; i++) {
          running = (await scratch.inspect(c)).State.Running;
          if (!running) await sleep(100);
        }
        expect(running, again.log()).toBe(true);
        for (let i = 0; i < 50 && existsSync(stoppedFile); i++) await sleep(100);
        expect(existsSync(stoppedFile)).toBe(false);
        expect(again.log()).toContain(`docker: container ${c}: started again after an interrupted backup`);
        const listed = await cairnJson<VolumesResult>(['volumes'], { home: agentHome });
        expect(listed.find((v) => v.name === vol)?.containers.find((x) => x.name === c)?.state).toBe('running');

        // Through the agent's API: the same restore op (dry run, then for real).
        const small = await scratch.volume('viaagent');
        const fills = await scratch.container('fills', { volumes: [small], mode: 'run', script: 'echo via-agent > /data/f && ln -s /etc /data/e' });
        const b = await cairnJson<VolumeBackupResult>(['backup', `volume:${small}`], { home: agentHome });
        const target = scratch.name('viaagent-new');
        made.push(target);
        const dry = await cairnJson<VolumeRestoreResult>(['restore', b.id, '--to-volume', target, '--dry-run'], { home: agentHome });
        expect(dry.changes.created.sort()).toEqual(['/e', '/f']);
        expect(dry.usage?.containers.map((x) => [x.name, x.state])).toEqual([[fills, 'exited']]);
        const res = await cairnJson<VolumeRestoreResult>(['restore', b.id, '--to-volume', target], { home: agentHome });
        const d = await compareTrees(await mountpoint(small), res.mountpoint as string);
        expect(d, formatDiffs(d)).toEqual([]);
      } finally {
        await again.stop();
      }
    } finally {
      await agent.stop();
      await rm(dirname(agentHome), { recursive: true, force: true });
    }
  });

  test('agent start with a record but no reachable engine: one log line, the agent runs', async () => {
    const h = await initHome();
    try {
      await writeFile(
        join(h, 'docker-stopped.json'),
        JSON.stringify({ containers: [{ id: 'abc', name: 'gone', action: 'stopped', since: '2026-01-01T00:00:00.000Z' }] }),
      );
      const prev = process.env.DOCKER_HOST;
      process.env.DOCKER_HOST = 'unix:///nonexistent/cairn-test/docker.sock';
      let agent;
      try {
        agent = await startAgent('nodocker', { home: h, existing: { recoveryPhrase: '' } });
      } finally {
        if (prev === undefined) delete process.env.DOCKER_HOST;
        else process.env.DOCKER_HOST = prev;
      }
      try {
        for (let i = 0; i < 100 && !agent.log().includes('docker:'); i++) await sleep(100);
        const lines = agent
          .log()
          .split('\n')
          .filter((l) => l.includes('docker:'));
        expect(lines).toHaveLength(1);
        expect(lines[0]).toContain('not reachable at unix:///nonexistent/cairn-test/docker.sock');
        expect((await stat(join(h, 'docker-stopped.json'))).isFile()).toBe(true);
      } finally {
        await agent.stop();
      }
    } finally {
      await rm(dirname(h), { recursive: true, force: true });
    }
  });
});
