// lstatAt (util/posix.ts): statx relative to a directory fd gives what lstatSync(..., { bigint: true })
// gives, for every kind of entry (device numbers built as libuv builds them), and errors with the
// codes the walk tests (ENOENT: vanished; ENOTDIR, ELOOP: swapped).
import { closeSync, constants, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lstatAt, type EntryStat } from '../../src/util/posix.js';

const FIELDS: Array<keyof EntryStat> = ['dev', 'ino', 'mode', 'nlink', 'uid', 'gid', 'rdev', 'size', 'atimeNs', 'mtimeNs', 'ctimeNs'];
const z = (name: string | Buffer) => (typeof name === 'string' ? name : Buffer.from(name));

function expectSame(dir: string, names: Array<string | Buffer>): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    for (const name of names) {
      const want = lstatSync(Buffer.concat([Buffer.from(`${dir}/`), Buffer.from(name)]), { bigint: true });
      const got = lstatAt(fd, z(name), join(dir, name.toString()));
      expect(got).toBeDefined();
      for (const f of FIELDS) expect([name.toString(), f, got?.[f]]).toEqual([name.toString(), f, want[f]]);
    }
  } finally {
    closeSync(fd);
  }
}

describe('lstatAt', () => {
  it('gives what lstatSync gives: files, directories, symlinks (not followed), a socket, odd names', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-lstat-at-'));
    writeFileSync(join(dir, 'file'), 'some bytes');
    mkdirSync(join(dir, 'sub'));
    symlinkSync('/nonexistent/target', join(dir, 'dangling'));
    symlinkSync('sub', join(dir, 'to-sub'));
    writeFileSync(Buffer.from(`${dir}/caf\xe9-latin1`, 'latin1'), 'x');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(join(dir, 'sock'), resolve));
    try {
      expectSame(dir, readdirSync(dir, { encoding: 'buffer' }));
      // a name as a string goes as its UTF-8 bytes
      writeFileSync(join(dir, 'naïve ✓'), 'x');
      expectSame(dir, ['file', 'sub', 'naïve ✓', 'dangling']);
    } finally {
      server.close();
    }
  });

  it('gives what lstatSync gives for devices (rdev) and a mountpoint (dev)', () => {
    expectSame(
      '/dev',
      ['null', 'zero', 'urandom', 'shm'].filter((n) => readdirSync('/dev').includes(n)),
    );
    expectSame('/', ['proc', 'dev', 'tmp']);
  });

  it('throws with the codes the walk tests', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-lstat-at-'));
    writeFileSync(join(dir, 'file'), 'x');
    const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      expect(() => lstatAt(fd, z('missing'), join(dir, 'missing'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
      expect(() => lstatAt(fd, z('file/below'), join(dir, 'file/below'))).toThrow(expect.objectContaining({ code: 'ENOTDIR' }));
    } finally {
      closeSync(fd);
    }
  });
});
