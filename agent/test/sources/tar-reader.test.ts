// The tar reader of the helper read path: names and link targets come out as their exact bytes from
// ustar, GNU (long name/link) and pax (path/linkpath) tars made by GNU tar and from hand-made pax
// headers as the Docker engine writes them (raw bytes, no hdrcharset); pax uid/gid/size/mtime are
// honoured; a wrong checksum, an archive cut short, oversized extended headers and bad pax records
// are refused; an entry's data cannot be read after the reader moved on.
import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, test } from 'vitest';
import { MAX_TAR_EXTENDED_HEADER_BYTES, readTar, type TarHeader } from '../../src/sources/tar-reader.js';

const b = (s: string) => Buffer.from(s, 'latin1');

/** One ustar header block (fields as Go writes them). */
function header(name: Buffer | string, typeflag: string, size: number, o: { linkname?: string; uid?: number; mtime?: number } = {}): Buffer {
  const h = Buffer.alloc(512);
  (typeof name === 'string' ? b(name) : name).copy(h, 0, 0, 100);
  const oct = (v: number, len: number, off: number) => h.write(`${v.toString(8).padStart(len - 1, '0')}\0`, off, 'latin1');
  oct(0o644, 8, 100);
  oct(o.uid ?? 0, 8, 108);
  oct(0, 8, 116);
  oct(size, 12, 124);
  oct(o.mtime ?? 1_700_000_000, 12, 136);
  h.write(typeflag, 156, 'latin1');
  if (o.linkname) h.write(o.linkname, 157, 'latin1');
  h.write('ustar\x0000', 257, 'latin1');
  h.write('        ', 148, 'latin1');
  let sum = 0;
  for (const x of h) sum += x;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

const pad = (data: Buffer) => Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);

/** A pax record "LEN key=value\n" with value as bytes. */
function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([b(` ${key}=`), value, b('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([b(String(len)), body]);
}

function paxHeader(records: Buffer): Buffer {
  return Buffer.concat([header('v/PaxHeaders.0/x', 'x', records.length), pad(records)]);
}

const END = Buffer.alloc(1024);

/** Headers of every entry (data read for files), or the error. */
async function headers(tar: Buffer, chunk = 7): Promise<Array<TarHeader & { body: string }>> {
  const pieces: Buffer[] = [];
  // Odd chunk sizes: blocks and records span chunks.
  for (let i = 0; i < tar.length; i += chunk) pieces.push(tar.subarray(i, i + chunk));
  const out = [];
  for await (const { header: h, data } of readTar(Readable.from(pieces), 'test tar')) {
    const parts: Buffer[] = [];
    for await (const p of data()) parts.push(p);
    out.push({ ...h, body: Buffer.concat(parts).toString('latin1') });
  }
  return out;
}

describe('tars made by GNU tar', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  test.each(['gnu', 'pax', 'ustar'])('--format=%s: names and symlink targets come back as their bytes', async (format) => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-tar-'));
    dirs.push(dir);
    const at = (...parts: Buffer[]) => Buffer.concat([b(`${dir}/`), ...parts]);
    const names = [b('v/a\xffb'), b('v/x\x80y'), b('v/caf\xe9'), b('v/d\xfe/inner'), b('v/plain')];
    // ustar cannot hold a component over 100 bytes; GNU (L/K entries) and pax can.
    if (format !== 'ustar') names.push(b(`v/${'0'.repeat(120)}\xff`), b(`v/d\xfe/${'1'.repeat(150)}\x80/f`));
    const target = b('t\x80x/../caf\xe9');
    const longTarget = b(`${'2'.repeat(140)}\xfe`);
    mkdirSync(at(b('v/d\xfe')), { recursive: true });
    if (format !== 'ustar') mkdirSync(at(b(`v/d\xfe/${'1'.repeat(150)}\x80`)));
    for (const n of names) writeFileSync(at(n), n);
    symlinkSync(target, at(b('v/s\xff')));
    if (format !== 'ustar') symlinkSync(longTarget, at(b('v/long-target')));
    const tar = spawnSync('tar', ['-C', dir, `--format=${format}`, '-cf', '-', 'v'], { maxBuffer: 1 << 24 });
    expect(tar.status, tar.stderr.toString()).toBe(0);
    const got = await headers(tar.stdout);
    const files = got.filter((h) => h.type === 'file');
    expect(files.map((h) => h.name.toString('hex')).sort()).toEqual(names.map((n) => n.toString('hex')).sort());
    // Each file holds its own name: the data follows the right header.
    for (const f of files) expect(b(f.body).equals(f.name)).toBe(true);
    const links = new Map(got.filter((h) => h.type === 'symlink').map((h) => [h.name.toString('hex'), h.linkname.toString('hex')]));
    expect(links.get(b('v/s\xff').toString('hex'))).toBe(target.toString('hex'));
    if (format !== 'ustar') expect(links.get(b('v/long-target').toString('hex'))).toBe(longTarget.toString('hex'));
    expect(got.filter((h) => h.type === 'dir').map((h) => h.name.toString('latin1').replace(/\/$/, ''))).toContain('v/d\xfe');
  });
});

describe('pax as the Docker engine writes it', () => {
  test('raw bytes in path and linkpath, and uid/gid/size/mtime from the records', async () => {
    const tar = Buffer.concat([
      header('v/', '5', 0),
      paxHeader(
        Buffer.concat([paxRecord('path', b('v/caf\xe9')), paxRecord('uid', b('3000000')), paxRecord('gid', b('4000000')), paxRecord('mtime', b('-12.5'))]),
      ),
      header('v/caf', '0', 3),
      pad(b('abc')),
      paxHeader(paxRecord('linkpath', b('v/caf\xe9'))),
      header('v/hl', '1', 0, { linkname: 'v/caf' }),
      paxHeader(Buffer.concat([paxRecord('path', b('v/s\x80')), paxRecord('linkpath', b('\xff'))])),
      header('v/s', '2', 0, { linkname: '?' }),
      END,
    ]);
    const got = await headers(tar);
    expect(got.map((h) => [h.type, h.name.toString('latin1'), h.linkname.toString('latin1')])).toEqual([
      ['dir', 'v/', ''],
      ['file', 'v/caf\xe9', ''],
      ['link', 'v/hl', 'v/caf\xe9'],
      ['symlink', 'v/s\x80', '\xff'],
    ]);
    expect(got[1]).toMatchObject({ uid: 3_000_000, gid: 4_000_000, mtimeSec: -13n, size: 3, body: 'abc' });
    // The records apply to their entry only.
    expect(got[2]).toMatchObject({ uid: 0, mtimeSec: 1_700_000_000n });
  });

  test('a pax size overrides the header size', async () => {
    const tar = Buffer.concat([
      paxHeader(paxRecord('size', b('600'))),
      header('v/f', '0', 0),
      pad(Buffer.alloc(600, 0x61)),
      header('v/g', '0', 1),
      pad(b('z')),
      END,
    ]);
    const got = await headers(tar);
    expect(got.map((h) => [h.name.toString(), h.size, h.body.length])).toEqual([
      ['v/f', 600, 600],
      ['v/g', 1, 1],
    ]);
  });
});

describe('refused', () => {
  const one = Buffer.concat([header('v/f', '0', 3), pad(b('abc'))]);

  test('an archive cut short: without its end block, in a header, in file data', async () => {
    await expect(headers(one)).rejects.toThrow('test tar: the archive is cut short (in a header)');
    await expect(headers(one.subarray(0, 300))).rejects.toThrow('test tar: the archive is cut short (in a header)');
    await expect(headers(one.subarray(0, 513))).rejects.toThrow('test tar: the archive is cut short (in file data)');
    await expect(headers(Buffer.concat([one, END]))).resolves.toHaveLength(1);
  });

  test('a header with a wrong checksum', async () => {
    const bad = Buffer.from(one);
    bad[0] = 0x77;
    await expect(headers(Buffer.concat([bad, END]))).rejects.toThrow('test tar: a tar header with a wrong checksum (not a tar, or corrupted)');
  });

  test(`extended headers over ${MAX_TAR_EXTENDED_HEADER_BYTES} bytes before one entry`, async () => {
    const half = paxHeader(paxRecord('comment', Buffer.alloc(MAX_TAR_EXTENDED_HEADER_BYTES / 2, 0x61)));
    await expect(headers(Buffer.concat([half, one, END]), 65536)).resolves.toHaveLength(1);
    await expect(headers(Buffer.concat([half, half, one, END]), 65536)).rejects.toThrow(
      `test tar: extended tar headers of more than ${MAX_TAR_EXTENDED_HEADER_BYTES} bytes before one entry`,
    );
  });

  test(`global pax records over ${MAX_TAR_EXTENDED_HEADER_BYTES} bytes kept, across entries`, async () => {
    const globalHeader = (key: string) => {
      const rec = paxRecord(key, Buffer.alloc(MAX_TAR_EXTENDED_HEADER_BYTES / 2, 0x61));
      return Buffer.concat([header('v/GlobalHead.0', 'g', rec.length), pad(rec)]);
    };
    const next = Buffer.concat([header('v/g', '0', 1), pad(b('z'))]);
    // Each under the per-entry bound; the same key again replaces, a new one adds.
    await expect(headers(Buffer.concat([globalHeader('comment'), one, globalHeader('comment'), next, END]), 65536)).resolves.toHaveLength(2);
    await expect(headers(Buffer.concat([globalHeader('comment'), one, globalHeader('other'), next, END]), 65536)).rejects.toThrow(
      `test tar: global pax records of more than ${MAX_TAR_EXTENDED_HEADER_BYTES} bytes`,
    );
  });

  test.each([
    ['a length that is not a number', b('x path=v/a\n')],
    ['a length past the newline', b('30 path=v/a\n')],
    ['no "="', b('9 pathva\n')],
    ['a bad uid', paxRecord('uid', b('12a'))],
    ['a bad mtime', paxRecord('mtime', b('1e9'))],
  ])('a bad pax record: %s', async (_why, rec) => {
    await expect(headers(Buffer.concat([paxHeader(rec), one, END]))).rejects.toThrow(/test tar: bad pax (extended header|record)/);
  });

  test("an entry's data read after the reader moved on", async () => {
    const it = readTar(Readable.from([Buffer.concat([one, header('v/g', '0', 1), pad(b('z')), END])]), 'test tar');
    const first = (await it.next()).value as { data: () => AsyncIterable<Buffer> };
    await it.next();
    const late = async () => {
      for await (const p of first.data()) void p;
    };
    await expect(late()).rejects.toThrow('test tar: the data of a tar entry read after the next entry');
    await it.return(undefined);
  });
});
