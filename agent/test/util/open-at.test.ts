// openAt and the fd forms of the xattr calls (util/posix.ts), which the backup's walk uses instead of
// /proc/self/fd/D/name paths: the open starts at the directory's fd whatever its path is now, never
// follows a final symlink with O_NOFOLLOW, takes names as exact bytes, and fails with the errno
// codes the walk tests; xattrs read through an fd equal those read through the path.
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openAt, readXattrs, setXattr } from '../../src/util/posix.js';

const READ = constants.O_RDONLY | constants.O_NOFOLLOW;

function fresh(): { dir: string; fd: number } {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-open-at-'));
  writeFileSync(join(dir, 'file'), 'the bytes');
  mkdirSync(join(dir, 'sub'));
  symlinkSync('file', join(dir, 'link'));
  return { dir, fd: openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY) };
}

describe('openAt', () => {
  it('opens relative to the directory fd even after the directory moved, names as exact bytes', () => {
    const { dir, fd } = fresh();
    try {
      writeFileSync(Buffer.from(`${dir}/caf\xe9`, 'latin1'), 'latin1 name');
      renameSync(dir, `${dir}-moved`); // the fd still names the directory; its old path does not
      const f = openAt(fd, 'file', READ, 'file');
      expect(readFileSync(f, 'utf8')).toBe('the bytes');
      closeSync(f);
      const g = openAt(fd, Buffer.from('caf\xe9', 'latin1'), READ, 'café');
      expect(readFileSync(g, 'utf8')).toBe('latin1 name');
      closeSync(g);
    } finally {
      closeSync(fd);
    }
  });

  it('fails with the codes the walk tests: ELOOP for a final symlink, ENOTDIR, ENOENT; the message names the path shown', () => {
    const { fd } = fresh();
    try {
      expect(() => openAt(fd, 'link', READ, '/src/link')).toThrow(expect.objectContaining({ code: 'ELOOP' }));
      expect(() => openAt(fd, 'file', READ | constants.O_DIRECTORY, '/src/file')).toThrow(expect.objectContaining({ code: 'ENOTDIR' }));
      expect(() => openAt(fd, 'gone', READ, '/src/gone')).toThrow(/open \/src\/gone: ENOENT/);
      // without O_NOFOLLOW the same symlink opens its target: the flag is what refuses it
      const f = openAt(fd, 'link', constants.O_RDONLY, 'link');
      expect(readFileSync(f, 'utf8')).toBe('the bytes');
      closeSync(f);
    } finally {
      closeSync(fd);
    }
  });
});

describe('xattrs through an fd', () => {
  it('equal those read through the path, for a file and a directory, a value larger than the list buffer included', () => {
    const { dir, fd } = fresh();
    try {
      const big = Buffer.alloc(3000, 7);
      try {
        setXattr(join(dir, 'file'), 'user.small', Buffer.from('one'));
        setXattr(join(dir, 'file'), 'user.big', big);
        setXattr(join(dir, 'sub'), 'user.dir', Buffer.from('two'));
      } catch (err) {
        // tmpfs without user xattrs: say so rather than pass without checking anything
        throw new Error(`this file system refuses user xattrs, the test cannot run here: ${(err as Error).message}`);
      }
      for (const [name, flags] of [
        ['file', READ],
        ['sub', READ | constants.O_DIRECTORY],
      ] as const) {
        const f = openAt(fd, name, flags, name);
        try {
          const byFd = readXattrs({ fd: f, shown: name });
          expect(byFd).toEqual(readXattrs(join(dir, name)));
          expect(byFd.size).toBeGreaterThan(0);
        } finally {
          closeSync(f);
        }
      }
      const f = openAt(fd, 'file', READ, 'file');
      expect(readXattrs({ fd: f, shown: 'file' }).get('user.big')).toEqual(big);
      closeSync(f);
    } finally {
      closeSync(fd);
    }
  });
});
