// A small streaming tar reader that gives names and link targets as their exact bytes. Linux names
// are bytes, and the Docker engine's archive (Go's archive/tar, pax format) carries a name that is
// not plain ASCII in a pax `path` / `linkpath` record holding the raw bytes (no hdrcharset). The
// tar-stream package decodes pax records as UTF-8 with no option to keep the bytes (a byte that is
// not part of valid UTF-8 becomes U+FFFD), so such names were lost there. Read here: ustar (name and
// prefix), GNU (long names 'L' and long link names 'K') and pax (local 'x' and global 'g' records:
// path, linkpath, size, uid, gid, mtime). Every header's checksum is verified, numbers may be octal
// or base-256, extended headers are bounded, and an archive cut short (before its end-of-archive
// block) is an error, never a silent end.
import { CairnError } from '../util/errors.js';

export const TAR_BLOCK_BYTES = 512;
/**
 * Extended headers (pax records, GNU long names) before one entry, together; also the global pax
 * records kept. A Linux path is at most 4096 bytes; Docker adds a few extended-attribute records.
 * More is refused, not buffered.
 */
export const MAX_TAR_EXTENDED_HEADER_BYTES = 1024 * 1024;

export class TarFormatError extends CairnError {
  constructor(message: string) {
    super('E_VOLUME_ARCHIVE', message);
    this.name = 'TarFormatError';
  }
}

export type TarType = 'file' | 'link' | 'symlink' | 'chardev' | 'blockdev' | 'dir' | 'fifo';

export interface TarHeader {
  /** The entry's name, exact bytes (pax `path`, else a GNU long name, else ustar prefix/name). */
  name: Buffer;
  /** Hardlinks and symlinks: the target, exact bytes (pax `linkpath`, GNU long link name, ustar linkname). */
  linkname: Buffer;
  /** undefined for a type flag this reader does not know (`typeflag` says which). */
  type: TarType | undefined;
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of data that follow (files only; 0 for every other type). */
  size: number;
  /** Seconds since the epoch, floored. */
  mtimeSec: bigint;
  devmajor: number;
  devminor: number;
}

export interface TarEntry {
  header: TarHeader;
  /** The data, once; it must be read before the reader moves on to the next entry. */
  data: () => AsyncIterable<Buffer>;
}

const TYPES: Record<string, TarType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'link',
  '2': 'symlink',
  '3': 'chardev',
  '4': 'blockdev',
  '5': 'dir',
  '6': 'fifo',
};
const USTAR_MAGIC = Buffer.from('ustar\x0000', 'latin1');
const GNU_MAGIC = Buffer.from('ustar  \x00', 'latin1');

const padding = (size: number) => (TAR_BLOCK_BYTES - (size % TAR_BLOCK_BYTES)) % TAR_BLOCK_BYTES;

/** Bytes up to the first NUL. */
const cString = (b: Buffer) => {
  const nul = b.indexOf(0);
  return nul < 0 ? b : b.subarray(0, nul);
};

/** Pulls exact byte counts from an async iterable of chunks (no copy unless a block spans chunks). */
class ByteReader {
  private cur: Buffer = Buffer.alloc(0);
  private pos = 0;
  constructor(
    private readonly it: AsyncIterator<Uint8Array>,
    private readonly where: string,
  ) {}

  /** At least one and at most `max` bytes; an error at the end of the input. */
  async some(max: number, what: string): Promise<Buffer> {
    while (this.pos >= this.cur.length) {
      const n = await this.it.next();
      if (n.done) throw new TarFormatError(`${this.where}: the archive is cut short (in ${what})`);
      this.cur = Buffer.from(n.value.buffer, n.value.byteOffset, n.value.byteLength);
      this.pos = 0;
    }
    const take = Math.min(max, this.cur.length - this.pos);
    this.pos += take;
    return this.cur.subarray(this.pos - take, this.pos);
  }

  async exact(n: number, what: string): Promise<Buffer> {
    const first = n === 0 ? Buffer.alloc(0) : await this.some(n, what);
    if (first.length === n) return first;
    const parts = [first];
    for (let got = first.length; got < n;) {
      const p = await this.some(n - got, what);
      parts.push(p);
      got += p.length;
    }
    return Buffer.concat(parts);
  }

  async skip(n: number, what: string): Promise<void> {
    for (let left = n; left > 0;) left -= (await this.some(left, what)).length;
  }
}

/** A numeric header field: octal (spaces and NULs around it), or base-256 (GNU: first byte 0x80, or 0xff for negative). */
function headerNumber(field: Buffer, name: string, where: string): bigint {
  const first = field[0] as number;
  if (first === 0x80 || first === 0xff) {
    let v = 0n;
    for (const b of field.subarray(1)) v = (v << 8n) | BigInt(b);
    return first === 0xff ? v - (1n << BigInt(8 * (field.length - 1))) : v;
  }
  const text = field.toString('latin1').replace(/^[ \0]+|[ \0]+$/g, '');
  if (text === '') return 0n;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`${where}: tar header field ${name} is not a number (${JSON.stringify(text)})`);
  return BigInt(`0o${text}`);
}

function small(v: bigint, name: string, where: string): number {
  if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw new TarFormatError(`${where}: tar header field ${name} out of range (${v})`);
  return Number(v);
}

/** Adds the records of a pax extended header to `into` (an empty value removes the key, as POSIX says). */
function parsePax(data: Buffer, into: Map<string, Buffer>, where: string): void {
  const bad = (why: string) => new TarFormatError(`${where}: bad pax extended header: ${why}`);
  let i = 0;
  while (i < data.length) {
    if (data[i] === 0) break; // NUL padding after the last record
    const space = data.indexOf(0x20, i);
    if (space < 0 || space - i > 16) throw bad('a record without its length');
    const lenText = data.toString('latin1', i, space);
    if (!/^[1-9][0-9]*$/.test(lenText)) throw bad(`record length ${JSON.stringify(lenText)}`);
    const end = i + Number(lenText);
    if (end > data.length || end <= space + 1 || data[end - 1] !== 0x0a) throw bad('a record length that does not match its newline');
    const rec = data.subarray(space + 1, end - 1);
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) throw bad('a record without "key="');
    const key = rec.toString('latin1', 0, eq);
    const value = rec.subarray(eq + 1);
    if (value.length === 0) into.delete(key);
    else into.set(key, value);
    i = end;
  }
}

function paxInteger(v: Buffer, key: string, where: string): bigint {
  const text = v.toString('latin1');
  if (!/^[0-9]{1,19}$/.test(text)) throw new TarFormatError(`${where}: bad pax record ${key}=${JSON.stringify(text)}`);
  return BigInt(text);
}

/** A pax time ("-12.5", "1700000000.123456789") as whole seconds, floored. */
function paxSeconds(v: Buffer, where: string): bigint {
  const text = v.toString('latin1');
  const m = /^(-?)([0-9]{1,19})(?:\.([0-9]{1,32}))?$/.exec(text);
  if (!m) throw new TarFormatError(`${where}: bad pax record mtime=${JSON.stringify(text)}`);
  const whole = BigInt(m[2] as string);
  if (m[1] !== '-') return whole;
  return /[1-9]/.test(m[3] ?? '') ? -whole - 1n : -whole;
}

interface RawHeader {
  typeflag: string;
  name: Buffer;
  linkname: Buffer;
  mode: bigint;
  uid: bigint;
  gid: bigint;
  size: bigint;
  mtime: bigint;
  devmajor: bigint;
  devminor: bigint;
}

function decodeHeader(block: Buffer, where: string): RawHeader {
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK_BYTES; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] as number);
  if (BigInt(sum) !== headerNumber(block.subarray(148, 156), 'chksum', where))
    throw new TarFormatError(`${where}: a tar header with a wrong checksum (not a tar, or corrupted)`);
  const magic = block.subarray(257, 265);
  const ustar = magic.equals(USTAR_MAGIC);
  if (!ustar && !magic.equals(GNU_MAGIC)) throw new TarFormatError(`${where}: a tar header that is neither ustar, pax nor GNU`);
  const field = (off: number, len: number, name: string) => headerNumber(block.subarray(off, off + len), name, where);
  const short = cString(block.subarray(0, 100));
  const prefix = ustar ? cString(block.subarray(345, 500)) : Buffer.alloc(0);
  return {
    typeflag: String.fromCharCode(block[156] as number),
    name: prefix.length > 0 ? Buffer.concat([prefix, Buffer.from('/'), short]) : Buffer.from(short),
    linkname: Buffer.from(cString(block.subarray(157, 257))),
    mode: field(100, 8, 'mode'),
    uid: field(108, 8, 'uid'),
    gid: field(116, 8, 'gid'),
    size: field(124, 12, 'size'),
    mtime: field(136, 12, 'mtime'),
    devmajor: field(329, 8, 'devmajor'),
    devminor: field(337, 8, 'devminor'),
  };
}

const isZeroBlock = (b: Buffer) => b.every((x) => x === 0);

/**
 * The entries of the uncompressed tar `input`, in order. Each entry's data must be read (or left)
 * before the next entry is asked for; what was left is skipped. Stops at the first end-of-archive
 * block and stops reading the input (its iterator is returned) when done, failed or abandoned.
 */
export async function* readTar(input: AsyncIterable<Uint8Array>, where: string): AsyncGenerator<TarEntry> {
  const it = input[Symbol.asyncIterator]();
  const src = new ByteReader(it, where);
  const global = new Map<string, Buffer>();
  try {
    for (;;) {
      const pax = new Map<string, Buffer>();
      let longName: Buffer | undefined;
      let longLink: Buffer | undefined;
      let extendedBytes = 0;
      let raw: RawHeader;
      for (;;) {
        const block = await src.exact(TAR_BLOCK_BYTES, 'a header');
        if (isZeroBlock(block)) {
          if (extendedBytes > 0) throw new TarFormatError(`${where}: the archive ends after an extended header, without its entry`);
          return;
        }
        raw = decodeHeader(block, where);
        if (!'xgLK'.includes(raw.typeflag)) break;
        const size = small(raw.size, 'size', where);
        extendedBytes += size;
        if (extendedBytes > MAX_TAR_EXTENDED_HEADER_BYTES)
          throw new TarFormatError(`${where}: extended tar headers of more than ${MAX_TAR_EXTENDED_HEADER_BYTES} bytes before one entry`);
        const data = await src.exact(size, 'an extended header');
        await src.skip(padding(size), 'an extended header');
        if (raw.typeflag === 'x') parsePax(data, pax, where);
        else if (raw.typeflag === 'g') {
          parsePax(data, global, where);
          // Global records stay for every later entry: bounded together, like one entry's.
          let held = 0;
          for (const [k, v] of global) held += k.length + v.length;
          if (held > MAX_TAR_EXTENDED_HEADER_BYTES)
            throw new TarFormatError(`${where}: global pax records of more than ${MAX_TAR_EXTENDED_HEADER_BYTES} bytes`);
        } else if (raw.typeflag === 'L') longName = Buffer.from(cString(data));
        else longLink = Buffer.from(cString(data));
      }
      const rec = (key: string) => pax.get(key) ?? global.get(key);
      const path = rec('path');
      const linkpath = rec('linkpath');
      const paxNum = (key: string, fallback: bigint) => {
        const v = rec(key);
        return v ? paxInteger(v, key, where) : fallback;
      };
      const mtime = rec('mtime');
      const name = path ? Buffer.from(path) : (longName ?? raw.name);
      let type: TarType | undefined = TYPES[raw.typeflag];
      // Old tars mark directories by a trailing slash on a regular-file entry.
      if (type === 'file' && raw.typeflag !== '7' && name[name.length - 1] === 0x2f) type = 'dir';
      // Only regular files carry data (as Go's and GNU's readers do); unknown types are refused by the caller.
      const size = type === 'file' || type === undefined ? small(paxNum('size', raw.size), 'size', where) : 0;
      const header: TarHeader = {
        name,
        linkname: linkpath ? Buffer.from(linkpath) : (longLink ?? raw.linkname),
        type,
        typeflag: raw.typeflag,
        mode: small(raw.mode, 'mode', where),
        uid: small(paxNum('uid', raw.uid), 'uid', where),
        gid: small(paxNum('gid', raw.gid), 'gid', where),
        size,
        mtimeSec: mtime ? paxSeconds(mtime, where) : raw.mtime,
        devmajor: small(raw.devmajor, 'devmajor', where),
        devminor: small(raw.devminor, 'devminor', where),
      };
      let left = size;
      let taken = false;
      let passed = false;
      yield {
        header,
        data: () => {
          if (taken) throw new Error(`${where}: the data of a tar entry read twice`);
          taken = true;
          return (async function* () {
            for (;;) {
              if (passed) throw new Error(`${where}: the data of a tar entry read after the next entry`);
              if (left === 0) return;
              const piece = await src.some(left, 'file data');
              left -= piece.length;
              yield piece;
            }
          })();
        },
      };
      passed = true;
      await src.skip(left + padding(size), 'file data');
      left = 0;
    }
  } finally {
    // Stop the input (a Node stream is destroyed); an error of its own was already thrown to us or has no reader left.
    await Promise.resolve(it.return?.()).catch(() => undefined);
  }
}
