// The two ways of reading a volume against the real engine: through its mountpoint and through a
// helper container streaming a tar. A volume with a nasty tree (nested dirs, hardlinks across
// directories, symlinks incl. dangling ones, a fifo, odd modes and owners, a few MiB of random
// data, unicode names, old mtimes) gives the same root tree ID both ways; a second run of either
// path adds (almost) no bytes; restoring the helper snapshot into a new volume gives back the same
// content and metadata (mtimes to the second); no helper container is left behind; the docker
// inspect record comes back from the repository.
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { VolumeBackupResult, VolumeRestoreResult, VolumesResult } from '../../../protocol/api.js';
import type { SnapshotMeta, TreeNode } from '../../../protocol/snapshot.js';
import { BlobType } from '../../src/repo/blob.js';
import { openStores } from '../../src/compose-root.js';
import { loadTree } from '../../src/repo/trees.js';
import { volumeDev } from '../../src/snapshot/volume-archiver.js';
import { startAgent } from '../helpers/agents.js';
import { cairn, cairnJson, initHome, TEST_PASSPHRASE } from '../helpers/cli.js';
import { DockerScratch, describeDocker, docker } from '../helpers/docker-env.js';
import { compareTrees, formatDiffs } from '../helpers/tree-compare.js';

const MIB = 1024 * 1024;

/** Written by a container (root inside it) into /data. */
const NASTY_SCRIPT = [
  'set -e',
  'cd /data',
  'mkdir -p a/b/c/d deep/er "ünï cödé/日本語" empty sticky',
  'dd if=/dev/urandom of=a/big bs=64k count=48 2>/dev/null',
  'dd if=/dev/urandom of=a/b/c/d/mid bs=64k count=12 2>/dev/null',
  'dd if=/dev/urandom of="ünï cödé/日本語/🙂.bin" bs=1k count=300 2>/dev/null',
  'head -c 100000 a/big > deep/er/prefix-of-big',
  'echo hello > a/b/small',
  ': > zero',
  'ln a/big deep/er/big-link',
  'ln a/big "ünï cödé/big-link-2"',
  'ln a/b/small a/b/c/small-link',
  'ln -s ../a/big deep/to-big',
  'ln -s /nowhere/at/all dangling',
  'ln -s "ünï cödé" unicode-link',
  'mkfifo a/pipe',
  'chmod 4755 a/b/small',
  'chmod 1777 sticky',
  'chmod 000 zero',
  'chmod 2750 deep',
  'chown 1234:5678 a/big',
  'chown 0:999 a/b/c',
  'chown -h 42:43 dangling',
  'touch -d "2001-02-03 04:05:06" a/b/c/d/mid',
  'touch -d "1999-12-31 23:59:59" "ünï cödé/日本語"',
].join(' && ');

describeDocker('volumes read through the mountpoint and through a helper container', () => {
  const scratch = new DockerScratch('readpaths');
  let home: string;
  const made: string[] = [];

  beforeAll(async () => {
    home = await initHome();
  });
  afterAll(async () => {
    for (const v of made) await docker(['volume', 'rm', '-f', v]).catch(() => undefined);
    await scratch.cleanup();
    if (home) await rm(dirname(home), { recursive: true, force: true });
  });

  async function mountpoint(volume: string): Promise<string> {
    const v = (await cairnJson<VolumesResult>(['volumes'], { home })).find((x) => x.name === volume);
    if (!v) throw new Error(`volume ${volume} not listed`);
    return v.mountpoint;
  }

  /** Root tree ID, every node below it (path -> node without subtree), and the metadata blob of each snapshot. */
  async function inspectSnapshots(ids: string[]): Promise<Array<{ tree: string; nodes: Record<string, Omit<TreeNode, 'subtree'>>; meta: SnapshotMeta }>> {
    const stores = await openStores(home, TEST_PASSPHRASE);
    const repo = stores.repo;
    try {
      const out = [];
      for (const id of ids) {
        const { snapshot } = await repo.resolveSnapshot(id);
        const nodes: Record<string, Omit<TreeNode, 'subtree'>> = {};
        const walk = async (treeId: string, prefix: string): Promise<void> => {
          for (const n of (await loadTree(repo, treeId)).nodes) {
            const { subtree, ...rest } = n;
            nodes[`${prefix}/${n.name}`] = rest;
            if (subtree) await walk(subtree, `${prefix}/${n.name}`);
          }
        };
        await walk(snapshot.tree, '');
        const meta = JSON.parse((await repo.loadBlob(snapshot.meta as string, BlobType.data)).toString('utf8')) as SnapshotMeta;
        out.push({ tree: snapshot.tree, nodes, meta });
      }
      return out;
    } finally {
      await stores.close();
    }
  }

  test('a nasty volume: equal root trees both ways, second runs add almost nothing, the helper snapshot restores identical', async () => {
    const vol = await scratch.volume('nasty');
    const writer = await scratch.container('writer', { volumes: [vol], mode: 'run', script: NASTY_SCRIPT });
    const user = await scratch.container('user', { volumes: [`${vol}:/srv/app`], mode: 'create', script: 'true' });
    const mp = await mountpoint(vol);
    const backup = (how: string) => cairnJson<VolumeBackupResult>(['backup', `volume:${vol}`, '--volume-read', how], { home });

    const viaMount = await backup('mountpoint');
    expect(viaMount.volumes).toEqual([{ name: vol, path: mp, via: 'mountpoint' }]);
    expect(viaMount.paths).toEqual([mp]);
    expect(viaMount.warnings).toEqual([]);
    // 3 MiB + 768 KiB + 300 KiB + ~100 KB of random data, each hardlinked name counted as a file.
    expect(viaMount.sizeBytes).toBeGreaterThan(4 * MIB);
    const viaHelper = await backup('helper');
    expect(viaHelper.volumes).toEqual([{ name: vol, path: mp, via: 'helper' }]);
    expect(viaHelper.warnings).toEqual([]);
    expect({ files: viaHelper.files, dirs: viaHelper.dirs, size: viaHelper.sizeBytes }).toEqual({
      files: viaMount.files,
      dirs: viaMount.dirs,
      size: viaMount.sizeBytes,
    });
    // The helper snapshot found every chunk and tree already stored: only its own snapshot and metadata blobs are new.
    expect(viaHelper.addedBytes).toBeLessThan(64 * 1024);

    const [m, h] = await inspectSnapshots([viaMount.id, viaHelper.id]);
    expect(h!.nodes).toEqual(m!.nodes);
    expect(h!.tree).toBe(m!.tree);
    // The portable profile: whole-second mtimes, no atime/ctime, hardlinks as one synthetic inode.
    const big = m!.nodes[`${mp}/a/big`]!;
    // Groups numbered in tree order: a/b/c/small-link (of a/b/small) comes before a/big.
    expect(big).toMatchObject({ uid: 1234, gid: 5678, inode: '2', dev: volumeDev(mp), nlink: 3 });
    expect(m!.nodes[`${mp}/a/b/small`]).toMatchObject({ inode: '1', dev: volumeDev(mp), nlink: 2, mode: 0o4755 });
    expect(m!.nodes[`${mp}/zero`]).toMatchObject({ inode: '0', dev: '0', nlink: 1, mode: 0 });
    expect(big.atimeNs).toBeUndefined();
    expect(big.ctimeNs).toBeUndefined();
    expect(m!.nodes[`${mp}/deep/er/big-link`]).toEqual({ ...big, name: 'big-link' });
    expect(m!.nodes[`${mp}/a/b/c/d/mid`]?.mtimeNs).toBe(`${Date.UTC(2001, 1, 3, 4, 5, 6) / 1000}000000000`);
    for (const n of Object.values(m!.nodes)) expect(n.mtimeNs.endsWith('000000000') || n.mtimeNs === '0').toBe(true);
    // The docker inspect of the container mounting the volume is in the repository, with how it was read.
    expect(h!.meta.volumes?.[0]).toMatchObject({ name: vol, path: mp, via: 'helper' });
    expect(h!.meta.volumes?.[0]?.containers[0]).toMatchObject({ Name: `/${user}` });

    // Second runs: the helper reads everything again and dedup keeps it; the mountpoint path skips unchanged files.
    const helperAgain = await backup('helper');
    expect(helperAgain.parent).toBe(viaHelper.id);
    expect(helperAgain.addedBytes).toBeLessThan(64 * 1024);
    const mountAgain = await backup('mountpoint');
    expect(mountAgain.addedBytes).toBeLessThan(64 * 1024);
    expect(mountAgain.filesReused).toBe(mountAgain.files);
    const [h2, m2] = await inspectSnapshots([helperAgain.id, mountAgain.id]);
    expect([h2!.tree, m2!.tree]).toEqual([m!.tree, m!.tree]);

    // No helper container is left.
    // This home's helpers only: other test files may be reading volumes through helpers right now.
    expect((await docker(['ps', '-a', '-q', '--filter', `label=cairn.helper.home=${home}`])).trim()).toBe('');

    // The helper snapshot restored into a new volume: same content, modes, owners, links, mtimes to the second.
    await scratch.removeContainer(writer);
    const target = scratch.name('restored');
    made.push(target);
    const r = await cairnJson<VolumeRestoreResult>(['restore', viaHelper.id, '--to-volume', target], { home });
    expect({ errors: r.errors, warnings: r.warnings }).toEqual({ errors: [], warnings: [] });
    // How the volume was used, from the snapshot's metadata blob (the writer is gone from the engine by now).
    expect(r.usage?.containers.map((c) => [c.name, c.destination])).toEqual([
      [user, '/srv/app'],
      [writer, '/data'],
    ]);
    const diffs = await compareTrees(mp, r.mountpoint as string, { mtimeSeconds: true });
    expect(diffs, formatDiffs(diffs)).toEqual([]);

    // Prune (repacking every pack with any unneeded byte) keeps the metadata blobs; check verifies them.
    const pruned = await cairn(['prune', '--max-unused', '0'], { home });
    expect(pruned.code, pruned.stderr).toBe(0);
    const check = await cairn(['check', '--read-data'], { home });
    expect(check.code, `${check.stdout}${check.stderr}`).toBe(0);
    const [afterPrune] = await inspectSnapshots([viaHelper.id]);
    expect(afterPrune!.meta).toEqual(h!.meta);
  });

  test('through a running agent: --volume-read reaches the agent', async () => {
    const agent = await startAgent('readpath');
    try {
      const vol = await scratch.volume('agent');
      await scratch.container('fill', { volumes: [vol], mode: 'run', script: 'echo x > /data/x && ln /data/x /data/y' });
      const r = await cairn(['backup', `volume:${vol}`, '--volume-read', 'helper', '--json'], { home: agent.home });
      expect(r.code, r.stderr).toBe(0);
      const res = JSON.parse(r.stdout) as VolumeBackupResult;
      expect(res.volumes.map((v) => v.via)).toEqual(['helper']);
      expect(res.files).toBe(2);
    } finally {
      await agent.stop();
      await rm(dirname(agent.home), { recursive: true, force: true });
    }
  });

  test('an unknown --volume-read is refused', async () => {
    const vol = await scratch.volume('flag');
    const bad = await cairnJson<unknown>(['backup', `volume:${vol}`, '--volume-read', 'sideways'], { home }).catch((e: Error) => e);
    expect(String(bad)).toContain('volume read path "sideways" is not one of auto, mountpoint, helper');
  });
});
