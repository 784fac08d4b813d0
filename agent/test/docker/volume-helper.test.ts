// The helper-container read path in pieces: the tar parser refuses names that could leave the
// volume (absolute, "..", ".", outside the top directory, hardlinks pointing out), and reads good
// entries; `auto` picks the helper when the mountpoint is not there; and, against the real engine,
// the helper container is removed when the read fails midway.
import { spawnSync } from 'node:child_process';
import { linkSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, test } from 'vitest';
import { pack as tarPack, type Header } from 'tar-stream';
import { resolveVolumeSources } from '../../src/ops/volumes.js';
import type { DiscoveredVolume } from '../../src/sources/docker.js';
import { connectDocker } from '../../src/sources/docker.js';
import { helperEntries, parseVolumeTar } from '../../src/sources/volume-helper.js';
import type { VolumeEntry } from '../../src/snapshot/volume-archiver.js';
import { fromBytes, toBytes } from '../../src/util/byte-names.js';
import { DockerScratch, describeDocker, docker } from '../helpers/docker-env.js';

/** A tar of `entries` (file entries carry `body`). */
function makeTar(entries: Array<Partial<Header> & { name: string; body?: string }>): Readable {
  const p = tarPack();
  for (const { body, ...h } of entries) p.entry({ mtime: new Date(1_700_000_000_500), ...h }, body ?? '');
  p.finalize();
  return Readable.from(p);
}

/** Every entry, file contents read. */
async function readAll(tar: Readable): Promise<Array<Omit<VolumeEntry, 'data'> & { body?: string }>> {
  const out = [];
  for await (const { data, ...e } of parseVolumeTar(tar, 'v', 'test tar')) {
    let body: string | undefined;
    if (data) {
      const parts: Buffer[] = [];
      for await (const b of data()) parts.push(Buffer.from(b));
      body = Buffer.concat(parts).toString();
    }
    out.push(body === undefined ? e : { ...e, body });
  }
  return out;
}

describe('parseVolumeTar', () => {
  test('a good archive: the top directory is the root, mtimes in whole seconds, hardlinks and symlinks kept', async () => {
    const entries = await readAll(
      makeTar([
        { name: 'v/', type: 'directory', mode: 0o755 },
        { name: 'v/a', type: 'file', mode: 0o4755, uid: 7, gid: 8, body: 'hello' },
        { name: 'v/d/', type: 'directory', mode: 0o1777 },
        { name: 'v/d/b', type: 'link', linkname: 'v/a' },
        { name: 'v/d/s', type: 'symlink', linkname: '../../../etc/passwd' },
        { name: 'v/skipped', type: 'file', body: 'not read' },
        { name: 'v/p', type: 'fifo', mode: 0o600 },
      ]),
    );
    expect(entries.map((e) => [e.rel, e.type])).toEqual([
      ['', 'dir'],
      ['a', 'file'],
      ['d', 'dir'],
      ['d/b', 'link'],
      ['d/s', 'symlink'],
      ['skipped', 'file'],
      ['p', 'fifo'],
    ]);
    expect(entries[1]).toMatchObject({ mode: 0o4755, uid: 7, gid: 8, mtimeSec: 1_700_000_000n, size: 5, body: 'hello' });
    expect(entries[2]?.mode).toBe(0o1777);
    expect(entries[3]?.linkTo).toBe('a');
    // A symlink's target is data: kept verbatim (restore never follows it).
    expect(entries[4]?.target).toBe('../../../etc/passwd');
  });

  test('names, hardlink names and symlink targets that are not valid UTF-8 keep their bytes, below such directories too', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-badnames-'));
    const v = Buffer.from(`${dir}/v`);
    const at = (rel: string) => Buffer.concat([v, Buffer.from(`/${rel}`, 'latin1')]);
    mkdirSync(v);
    writeFileSync(at('good'), 'good');
    writeFileSync(at('bad\xfefile'), 'bad');
    mkdirSync(at('bad\xffdir'));
    writeFileSync(at('bad\xffdir/inner'), 'inner');
    linkSync(at('bad\xfefile'), at('bad\xffdir/hard'));
    symlinkSync(Buffer.from('../caf\xe9', 'latin1'), at('bad\xffdir/sym'));
    const tar = spawnSync('tar', ['-C', dir, '--format=gnu', '-cf', '-', 'v'], { maxBuffer: 1 << 20 });
    expect(tar.status, tar.stderr.toString()).toBe(0);
    const got: Record<string, { type: string; linkTo?: string; target?: string }> = {};
    for await (const e of parseVolumeTar(Readable.from([tar.stdout]), 'v', 'test tar')) {
      if (e.data) for await (const piece of e.data()) void piece;
      // The same strings the mountpoint path makes (util/byte-names.ts): bytes as U+DC80 + (byte - 0x80).
      got[toBytes(e.rel).toString('latin1')] = {
        type: e.type,
        ...(e.linkTo !== undefined ? { linkTo: toBytes(e.linkTo).toString('latin1') } : {}),
        ...(e.target !== undefined ? { target: toBytes(e.target).toString('latin1') } : {}),
      };
    }
    // The hardlink pair: whichever name tar met first is the file, the other links to it.
    const [first, second] = got['bad\xfefile']?.type === 'file' ? ['bad\xfefile', 'bad\xffdir/hard'] : ['bad\xffdir/hard', 'bad\xfefile'];
    expect(got).toEqual({
      '': { type: 'dir' },
      good: { type: 'file' },
      [first]: { type: 'file' },
      [second]: { type: 'link', linkTo: first },
      'bad\xffdir': { type: 'dir' },
      'bad\xffdir/inner': { type: 'file' },
      'bad\xffdir/sym': { type: 'symlink', target: '../caf\xe9' },
    });
    expect(fromBytes(Buffer.from('bad\xfefile', 'latin1'))).toBe('bad\udcfefile');
    await rm(dir, { recursive: true });
  });

  test.each([
    ['v/../etc/passwd', '".." in the name'],
    ['/v/etc', 'absolute name'],
    ['/etc/passwd', 'absolute name'],
    ['v/a/../../x', '".." in the name'],
    ['w/x', "outside the volume's directory v/"],
    ['v/./x', 'empty or "." component'],
    ['v//x', 'empty or "." component'],
    ['..', '".." in the name'],
  ])('%s is refused (%s)', async (name, why) => {
    const tar = makeTar([
      { name: 'v/', type: 'directory' },
      { name, type: 'file', body: 'x' },
    ]);
    await expect(readAll(tar)).rejects.toThrow(`test tar: refusing tar entry ${JSON.stringify(name)}: ${why}`);
  });

  test('a hardlink pointing outside the volume is refused', async () => {
    const tar = makeTar([
      { name: 'v/', type: 'directory' },
      { name: 'v/l', type: 'link', linkname: '../etc/shadow' },
    ]);
    await expect(readAll(tar)).rejects.toThrow('refusing tar entry "../etc/shadow": ".." in the name');
    const abs = makeTar([
      { name: 'v/', type: 'directory' },
      { name: 'v/l', type: 'link', linkname: '/etc/shadow' },
    ]);
    await expect(readAll(abs)).rejects.toThrow('refusing tar entry "/etc/shadow": absolute name');
  });
});

describe('choosing the read path', () => {
  const vol = (mountpoint: string): DiscoveredVolume => ({ name: 'x', driver: 'local', mountpoint, labels: {}, sizeBytes: null, containers: [] });

  test('auto reads through the mountpoint when it is a readable directory here, else through a helper container', async () => {
    expect((await resolveVolumeSources([vol('/tmp')], ['x'], 'auto'))[0]?.via).toBe('mountpoint');
    expect((await resolveVolumeSources([vol('/nonexistent/volumes/x/_data')], ['x'], 'auto'))[0]).toMatchObject({
      via: 'helper',
      path: '/nonexistent/volumes/x/_data',
    });
    expect((await resolveVolumeSources([vol('/tmp')], ['x'], 'helper'))[0]?.via).toBe('helper');
  });

  test('mountpoint, forced, fails clearly when the mountpoint is not readable here', async () => {
    await expect(resolveVolumeSources([vol('/nonexistent/volumes/x/_data')], ['x'], 'mountpoint')).rejects.toThrow(
      'volume x: its mountpoint /nonexistent/volumes/x/_data is not readable here (ENOENT); mount /var/lib/docker/volumes into the agent, or read it through a helper container (--volume-read helper or auto)',
    );
  });
});

describeDocker('the helper container', () => {
  const scratch = new DockerScratch('helper');
  afterAll(() => scratch.cleanup());

  test('is removed when the read fails midway; a leftover of the same home is removed by the next read', async () => {
    const v = await scratch.volume('h');
    await scratch.container('fill', { volumes: [v], mode: 'run', script: 'mkdir /data/d && echo a > /data/d/a && echo b > /data/b' });
    const engine = await connectDocker();
    const owner = `/test/home/${process.pid}`;
    const helpers = async () => (await docker(['ps', '-a', '-q', '--filter', `label=cairn.helper.home=${owner}`])).trim();
    let seen = 0;
    await expect(
      (async () => {
        for await (const e of helperEntries(engine, v, owner)) {
          seen += 1;
          expect(await helpers()).not.toBe('');
          if (e.rel === 'b') throw new Error('consumer failed');
        }
      })(),
    ).rejects.toThrow('consumer failed');
    expect(seen).toBeGreaterThan(0);
    expect(await helpers()).toBe('');

    // One left behind (an iteration never finished): the next read of the same home removes it.
    const abandoned = helperEntries(engine, v, owner);
    await abandoned.next();
    expect(await helpers()).not.toBe('');
    const rels: string[] = [];
    for await (const e of helperEntries(engine, v, owner)) rels.push(e.rel);
    expect(rels.sort()).toEqual(['', 'b', 'd', 'd/a']);
    await abandoned.return(undefined).catch(() => undefined);
    expect(await helpers()).toBe('');
  });
});
