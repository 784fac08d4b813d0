// Names are bytes on the helper read path too. A real volume holds names that are not valid UTF-8
// (0xff, a lone 0x80, latin1 "caf\xe9", a directory of such a name with a hardlink inside, names of
// more than 100 bytes, which the engine's pax records carry), and symlinks whose targets are not
// valid UTF-8 (one over 100 bytes), and mtimes and owners too large for ustar fields (pax records).
// Backed up through a helper container: exit 0, no warning, and
// the same root tree as the mountpoint read; restored into a new volume: every name, target and
// content byte-identical, the hardlink still one inode.
import { lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { VolumeBackupResult, VolumeRestoreResult, VolumesResult } from '../../../protocol/api.js';
import { openStores } from '../../src/compose-root.js';
import { cairn, cairnJson, initHome, TEST_PASSPHRASE } from '../helpers/cli.js';
import { DockerScratch, describeDocker, docker } from '../helpers/docker-env.js';

/** Written by busybox sh in the volume (/data); printf's octal escapes make the bytes. */
const SCRIPT = [
  'set -e',
  'cd /data',
  'echo 1 > "$(printf "a\\377b")"',
  'echo 2 > "$(printf "x\\200y")"',
  'echo 3 > "$(printf "caf\\351")"',
  'echo plain > plain',
  'mkdir "$(printf "d\\376")"',
  'echo in > "$(printf "d\\376/inner")"',
  'ln "$(printf "caf\\351")" "$(printf "d\\376/hl")"',
  'echo long > "$(printf "%0120d\\377" 0)"',
  'mkdir "$(printf "%0150d\\200" 0)"',
  'echo deep > "$(printf "%0150d\\200/f\\377" 0)"',
  'ln -s "$(printf "t\\200x/../caf\\351")" s',
  'ln -s "$(printf "%0140d\\376" 0)" "$(printf "s\\377")"',
  // Times and owners a ustar field cannot hold: the engine puts them in pax mtime/uid/gid records.
  'echo old > "$(printf "old\\377")" && touch -d "1960-01-01 00:00:01" "$(printf "old\\377")"',
  'echo late > late && chown 3000000:4000000 late && touch -d "2300-01-01 00:00:01" late',
].join(' && ');

/** Every entry below `dir`, as hex of its name bytes with its type, content or target bytes (sorted). */
function listBytes(dir: Buffer): string[] {
  return readdirSync(dir, { encoding: 'buffer' })
    .flatMap((n) => {
      const full = Buffer.concat([dir, Buffer.from('/'), n]);
      const st = lstatSync(full);
      const here = `${n.toString('hex')}:${st.isSymbolicLink() ? `->${readlinkSync(full, { encoding: 'buffer' }).toString('hex')}` : st.isFile() ? readFileSync(full).toString('hex') : 'dir'}`;
      return st.isDirectory() ? [here, ...listBytes(full).map((x) => `${n.toString('hex')}/${x}`)] : [here];
    })
    .sort();
}

describeDocker('names that are not valid UTF-8, read through a helper container', () => {
  const scratch = new DockerScratch('helperbytes');
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

  async function rootTree(id: string): Promise<string> {
    const stores = await openStores(home, TEST_PASSPHRASE);
    const repo = stores.repo;
    try {
      return (await repo.resolveSnapshot(id)).snapshot.tree;
    } finally {
      await stores.close();
    }
  }

  test("stored byte for byte (exit 0, the mountpoint read's tree) and restored byte-identical", async () => {
    const vol = await scratch.volume('bytes');
    await scratch.container('writer', { volumes: [vol], mode: 'run', script: SCRIPT });
    const mp = (await cairnJson<VolumesResult>(['volumes'], { home })).find((x) => x.name === vol)?.mountpoint as string;
    const original = listBytes(Buffer.from(mp));
    // What the script made: 14 entries, among them the 0xff name and the long symlink target.
    expect(original).toHaveLength(14);
    expect(original).toContain(`${Buffer.from('a\xffb', 'latin1').toString('hex')}:${Buffer.from('1\n').toString('hex')}`);

    const viaHelper = await cairn(['backup', `volume:${vol}`, '--volume-read', 'helper', '--json'], { home });
    expect(viaHelper.code, viaHelper.stderr).toBe(0);
    const h = JSON.parse(viaHelper.stdout) as VolumeBackupResult;
    expect(h.volumes.map((v) => v.via)).toEqual(['helper']);
    expect(h.warnings).toEqual([]);
    // 10 files, the hardlink counted as one; every one stored.
    expect(h.files).toBe(10);

    const viaMount = await cairnJson<VolumeBackupResult>(['backup', `volume:${vol}`, '--volume-read', 'mountpoint'], { home });
    expect(viaMount.warnings).toEqual([]);
    expect(await rootTree(h.id)).toBe(await rootTree(viaMount.id));
    // No helper container of this home is left (other test files may have their own right now).
    expect((await docker(['ps', '-a', '-q', '--filter', `label=cairn.helper.home=${home}`])).trim()).toBe('');

    const target = scratch.name('restored');
    made.push(target);
    const r = await cairnJson<VolumeRestoreResult>(['restore', h.id, '--to-volume', target], { home });
    expect({ errors: r.errors, warnings: r.warnings }).toEqual({ errors: [], warnings: [] });
    const back = Buffer.from(r.mountpoint as string);
    expect(listBytes(back)).toEqual(original);
    const ino = (rel: string) => lstatSync(Buffer.concat([back, Buffer.from(`/${rel}`, 'latin1')])).ino;
    expect(ino('d\xfe/hl')).toBe(ino('caf\xe9'));
    const mtime = (root: string, rel: string) => lstatSync(Buffer.concat([Buffer.from(root), Buffer.from(`/${rel}`, 'latin1')])).mtimeMs;
    expect([mtime(r.mountpoint as string, 'old\xff'), mtime(r.mountpoint as string, 'late')]).toEqual([
      Date.UTC(1960, 0, 1, 0, 0, 1),
      Date.UTC(2300, 0, 1, 0, 0, 1),
    ]);
    expect([mtime(mp, 'old\xff'), mtime(mp, 'late')]).toEqual([Date.UTC(1960, 0, 1, 0, 0, 1), Date.UTC(2300, 0, 1, 0, 0, 1)]);
    const late = lstatSync(`${r.mountpoint as string}/late`);
    expect([late.uid, late.gid]).toEqual([3_000_000, 4_000_000]);
  });
});
