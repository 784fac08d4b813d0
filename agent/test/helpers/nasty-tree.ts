// Builds a deterministic "nasty" directory tree for round-trip tests: every file-system feature a
// backup tool tends to get wrong (odd names, long names and paths, all kinds of links, special
// files, set-id and sticky bits, foreign owners, nanosecond and out-of-range times, extended
// attributes, sparse and large files, many tiny files). Needs root (chown, set-id bits).
//
// Everything derives from a seed, so two builds with the same options hold the same names,
// contents and metadata (only inode numbers and ctimes differ).
import { chmod, lchown, link, mkdir, open, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fromBytes, toBytes } from '../../src/util/byte-names.js';
import { makeNode, setTimesNs, setXattr } from '../../src/util/posix.js';

const S_IFIFO = 0o010000;
const NS_PER_S = 1_000_000_000n;
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export interface NastyTreeOptions {
  seed?: number;
  /** Tiny files (default 10,000), spread evenly over `tinyDirs` directories (default 100). */
  tinyFiles?: number;
  tinyDirs?: number;
  /** Size of the large random file; default 20 MiB (well above the 8 MiB maximum chunk). */
  bigFileBytes?: number;
  /** Apparent size of the sparse file; default 1 GiB. It holds a few KB of data and ends in a hole. */
  sparseFileBytes?: number;
  /** Byte length (UTF-8) of the deepest file's path relative to the root; default 3,900. */
  deepPathBytes?: number;
}

/** Paths (relative to the root, '/'-separated) of entries tests want to single out. */
export interface NastyTree {
  root: string;
  sparseFile: string;
  bigFile: string;
  deepFile: string;
  fifo: string;
  /** Three names of one inode, in three directories. */
  hardlinks: string[];
  /** A directory holding most of the odd names: a good `--include` subject. */
  unicodeDir: string;
  xattrFile: string;
  xattrDir: string;
  /** Number of entries below the root (not counting the root). */
  entries: number;
}

export interface EntryMeta {
  mode?: number;
  uid?: number;
  gid?: number;
  mtimeNs?: bigint;
  xattrs?: Record<string, Buffer>;
}

/** mulberry32: a small, fast, seedable PRNG (not for crypto). */
export class Prng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  nextU32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Integer in [lo, hi). */
  int(lo: number, hi: number): number {
    return lo + (this.nextU32() % (hi - lo));
  }
  bytes(n: number): Buffer {
    const words = new Uint32Array(Math.ceil(n / 4));
    for (let i = 0; i < words.length; i++) words[i] = this.nextU32();
    return Buffer.from(words.buffer, 0, n);
  }
  /** A timestamp between 2000 and 2030 whose nanosecond part is not a multiple of 1,000. */
  timeNs(): bigint {
    const sec = BigInt(this.int(946_684_800, 1_893_456_000));
    let ns = this.int(1, 1_000_000_000);
    if (ns % 1000 === 0) ns += 7;
    return sec * NS_PER_S + BigInt(ns);
  }
}

/** A name of exactly `bytes` UTF-8 bytes: `prefix`, then `fill` characters, then ASCII padding. */
export function nameOfBytes(prefix: string, bytes: number, fill = 'x'): string {
  let name = prefix;
  const fillLen = Buffer.byteLength(fill);
  while (Buffer.byteLength(name) + fillLen <= bytes) name += fill;
  while (Buffer.byteLength(name) < bytes) name += '_';
  if (Buffer.byteLength(name) !== bytes) throw new Error(`nameOfBytes: cannot make ${bytes} bytes from "${prefix}"`);
  return name;
}

interface PendingDir {
  rel: string;
  meta: EntryMeta;
}

class Builder {
  readonly rng: Prng;
  private readonly dirs = new Map<string, PendingDir>();
  entries = 0;

  constructor(
    readonly root: string,
    seed: number,
  ) {
    this.rng = new Prng(seed);
    this.dirs.set('', { rel: '', meta: { mode: 0o755 } });
  }

  /** The exact bytes of the path (rel may hold bytes that are not UTF-8, as fromBytes strings). */
  abs(rel: string): Buffer {
    return toBytes(rel === '' ? this.root : join(this.root, rel));
  }

  private async ensureParent(rel: string): Promise<void> {
    const i = rel.lastIndexOf('/');
    if (i > 0) await this.dir(rel.slice(0, i));
  }

  /** Creates a directory (and missing parents); its metadata is applied in `finish`, after its children. */
  async dir(rel: string, meta: EntryMeta = {}): Promise<void> {
    const existing = this.dirs.get(rel);
    if (existing) {
      Object.assign(existing.meta, meta);
      return;
    }
    await this.ensureParent(rel);
    await mkdir(this.abs(rel));
    this.dirs.set(rel, { rel, meta: { ...meta } });
    this.entries++;
  }

  async file(rel: string, content: Buffer | string, meta: EntryMeta = {}): Promise<void> {
    await this.ensureParent(rel);
    const fh = await open(this.abs(rel), 'wx', 0o600);
    try {
      const buf = typeof content === 'string' ? Buffer.from(content) : content;
      let off = 0;
      while (off < buf.length) off += (await fh.write(buf, off, buf.length - off)).bytesWritten;
    } finally {
      await fh.close();
    }
    this.entries++;
    await this.apply(rel, meta, true);
  }

  async sparseFile(rel: string, size: number, extents: { offset: number; data: Buffer }[], meta: EntryMeta = {}): Promise<void> {
    await this.ensureParent(rel);
    const fh = await open(this.abs(rel), 'wx', 0o600);
    try {
      for (const { offset, data } of extents) await fh.write(data, 0, data.length, offset);
      await fh.truncate(size);
    } finally {
      await fh.close();
    }
    this.entries++;
    await this.apply(rel, meta, true);
  }

  async symlink(rel: string, target: string, meta: EntryMeta = {}): Promise<void> {
    await this.ensureParent(rel);
    await symlink(toBytes(target), this.abs(rel));
    this.entries++;
    await this.apply(rel, meta, false);
  }

  async fifo(rel: string, meta: EntryMeta = {}): Promise<void> {
    await this.ensureParent(rel);
    makeNode(this.abs(rel), S_IFIFO | 0o600, 0);
    this.entries++;
    await this.apply(rel, meta, true);
  }

  async hardlink(existingRel: string, rel: string): Promise<void> {
    await this.ensureParent(rel);
    await link(this.abs(existingRel), this.abs(rel));
    this.entries++;
  }

  /** Owner first (chown clears set-id bits), then mode, xattrs, and times last. */
  private async apply(rel: string, meta: EntryMeta, chmodable: boolean): Promise<void> {
    const p = this.abs(rel);
    await lchown(p, meta.uid ?? 0, meta.gid ?? 0);
    if (chmodable) await chmod(p, meta.mode ?? 0o644);
    for (const [name, value] of Object.entries(meta.xattrs ?? {})) setXattr(p, name, value);
    const mtime = meta.mtimeNs ?? this.rng.timeNs();
    setTimesNs(p, mtime + 1234n, mtime);
  }

  /** Applies directory metadata deepest first, so creating children no longer touches a set mtime. */
  async finish(): Promise<void> {
    const all = [...this.dirs.values()].sort((a, b) => depth(b.rel) - depth(a.rel) || (a.rel < b.rel ? -1 : 1));
    for (const d of all) await this.apply(d.rel, { mode: 0o755, ...d.meta }, true);
  }
}

function depth(rel: string): number {
  return rel === '' ? 0 : rel.split('/').length;
}

/** Builds the tree in `root` (which must not exist yet; its parent must). */
export async function buildNastyTree(root: string, opts: NastyTreeOptions = {}): Promise<NastyTree> {
  const seed = opts.seed ?? 0x5eed;
  const tinyFiles = opts.tinyFiles ?? 10_000;
  const tinyDirs = opts.tinyDirs ?? 100;
  const bigFileBytes = opts.bigFileBytes ?? 20 * MiB;
  const sparseFileBytes = opts.sparseFileBytes ?? GiB;
  const deepPathBytes = opts.deepPathBytes ?? 3900;

  await mkdir(root);
  const b = new Builder(root, seed);
  const rng = b.rng;

  // --- Names: Unicode normalisation twins, emoji, CJK, RTL, control and shell-hostile characters.
  const u = 'names';
  await b.file(`${u}/caf\u00e9.txt`, 'NFC: precomposed e-acute\n');
  await b.file(`${u}/cafe\u0301.txt`, 'NFD: e + combining acute (same word, different bytes)\n');
  await b.dir(`${u}/\u00c5ngstr\u00f6m`);
  await b.file(`${u}/\u00c5ngstr\u00f6m/nfc-dir.txt`, 'inside the NFC directory\n');
  await b.dir(`${u}/A\u030angstro\u0308m`);
  await b.file(`${u}/A\u030angstro\u0308m/nfd-dir.txt`, 'inside the NFD directory\n');
  await b.file(`${u}/\u{1f980}\u{1f389} party \u{1f469}\u200d\u{1f469}\u200d\u{1f467}\u200d\u{1f466}.txt`, 'emoji with a ZWJ family\n');
  await b.file(`${u}/\u65e5\u672c\u8a9e\u306e\u30d5\u30a1\u30a4\u30eb\u540d.txt`, '\u65e5\u672c\u8a9e\n');
  await b.dir(`${u}/\u4e2d\u6587\u76ee\u5f55`);
  await b.file(`${u}/\u4e2d\u6587\u76ee\u5f55/\ud55c\uad6d\uc5b4.txt`, 'CJK dir, Korean file\n');
  await b.file(`${u}/\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd.txt`, 'Hebrew (RTL)\n');
  await b.file(`${u}/\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645.txt`, 'Arabic (RTL)\n');
  await b.file(`${u}/\u202eexe.txt`, 'right-to-left override\n');
  await b.file(`${u}/zero\u200bwidth`, 'zero-width space\n');
  await b.file(`${u}/line\nbreak`, 'newline in the name\n');
  await b.file(`${u}/tab\there`, 'tab in the name\n');
  await b.file(`${u}/ctrl\u0001char`, 'control character in the name\n');
  await b.file(`${u}/ leading space`, '\n');
  await b.file(`${u}/trailing space `, '\n');
  await b.file(`${u}/-leading-dash`, '\n');
  await b.file(`${u}/back\\slash`, '\n');
  await b.file(`${u}/glob*?[x]`, '\n');
  await b.file(`${u}/quote"'\`$(x)`, '\n');
  await b.file(`${u}/...`, 'three dots\n');
  await b.file(`${u}/UPPER`, 'upper\n');
  await b.file(`${u}/upper`, 'lower\n');
  // Names are bytes: not valid UTF-8 (old Samba and FTP shares), Latin-1, a lone continuation byte,
  // an encoded surrogate, an overlong "/", in a file name, a directory name and a symlink target.
  await b.file(`${u}/${fromBytes(Buffer.from([0x66, 0xff, 0xfe]))}`, 'invalid UTF-8 name\n');
  await b.file(`${u}/${fromBytes(Buffer.from('caf\u00e9-latin1.txt', 'latin1'))}`, 'Latin-1 name\n');
  await b.file(`${u}/${fromBytes(Buffer.from([0x61, 0x80, 0x62, 0xed, 0xa0, 0x80, 0xc0, 0xaf]))}`, 'stray continuation, surrogate, overlong slash\n');
  await b.dir(`${u}/${fromBytes(Buffer.from('dir-\u00e4\u00f6\u00fc', 'latin1'))}`);
  await b.file(`${u}/${fromBytes(Buffer.from('dir-\u00e4\u00f6\u00fc', 'latin1'))}/${fromBytes(Buffer.from([0xfe, 0xff]))}`, 'inside a Latin-1 directory\n');
  await b.symlink(`${u}/link-latin1-target`, fromBytes(Buffer.from('caf\u00e9-latin1.txt', 'latin1')));
  await b.symlink(`${u}/${fromBytes(Buffer.from([0x6c, 0xff]))}`, fromBytes(Buffer.from([0x2e, 0x2e, 0x2f, 0xff, 0x41])));

  // --- 255-byte names (the NAME_MAX limit), ASCII and 2-, 3- and 4-byte UTF-8 characters.
  const l = 'long-names';
  await b.file(`${l}/${nameOfBytes('ascii-', 255)}`, 'ascii\n');
  await b.file(`${l}/${nameOfBytes('two-', 255, '\u00e9')}`, '2-byte\n');
  await b.file(`${l}/${nameOfBytes('three-', 255, '\u65e5')}`, '3-byte\n');
  await b.file(`${l}/${nameOfBytes('four-', 255, '\u{1f980}')}`, '4-byte\n');
  const longDir = `${l}/${nameOfBytes('dir-', 255, '\u00fc')}`;
  await b.file(`${longDir}/${nameOfBytes('in-long-dir-', 255, '\u4e2d')}`, 'long name inside a long-named directory\n');

  // --- A path of `deepPathBytes` bytes: nested directories with long (partly multi-byte) names.
  let deep = 'deep';
  let n = 0;
  while (deepPathBytes - Buffer.byteLength(deep) - 1 > 255) {
    const room = deepPathBytes - Buffer.byteLength(deep) - 1;
    const comp = nameOfBytes(`d${n++}-`, Math.min(240, room - 1 - 32), n % 2 === 0 ? '\u00df' : 'y');
    deep += `/${comp}`;
  }
  await b.dir(deep, { mode: 0o750 });
  const deepFile = `${deep}/${nameOfBytes('leaf-', deepPathBytes - Buffer.byteLength(deep) - 1)}`;
  if (Buffer.byteLength(deepFile) !== deepPathBytes) throw new Error('deep path length mismatch');
  await b.file(deepFile, rng.bytes(3000), { mode: 0o640 });

  // --- Symlinks: relative, absolute, dangling, to a directory, long target, foreign owner.
  await b.file('files/hello.txt', 'hello, world\n');
  await b.file('files/random.bin', rng.bytes(100 * KiB));
  await b.symlink('links/relative', '../files/hello.txt');
  await b.symlink('links/absolute', '/etc/hostname');
  await b.symlink('links/dangling', '../no/such/file');
  await b.symlink('links/absolute-dangling', '/nonexistent/cairn/target');
  await b.symlink('links/to-dir', `../${u}`);
  await b.symlink('links/to-self', 'to-self');
  await b.symlink('links/unicode-target', `../${u}/caf\u00e9.txt`);
  await b.symlink('links/long-target', `${'../'.repeat(2)}${nameOfBytes('t', 200)}/`.repeat(15) + 'end');
  await b.symlink('links/owned', 'files/hello.txt', { uid: 4321, gid: 8765 });

  // --- Hardlinks: three names of one inode across directories; a pair of empty hardlinked files.
  const hl = ['hard/original', 'hard/a/second', 'hard/b/c/third'];
  await b.file(hl[0] as string, 'one inode, three names\n', { mode: 0o640, uid: 1234, gid: 5678 });
  await b.hardlink(hl[0] as string, hl[1] as string);
  await b.hardlink(hl[0] as string, hl[2] as string);
  await b.file('hard/empty-1', '', { mode: 0o600 });
  await b.hardlink('hard/empty-1', 'hard/a/empty-2');

  // --- Empty files and directories.
  await b.file('empty/empty.txt', '');
  await b.dir('empty/empty-dir');
  await b.dir('empty/nested/empty/dirs');

  // --- Modes 0000 through 7777.
  const fileModes = [
    0o000, 0o001, 0o002, 0o004, 0o010, 0o020, 0o040, 0o100, 0o200, 0o400, 0o444, 0o555, 0o600, 0o640, 0o644, 0o666, 0o700, 0o750, 0o755, 0o777, 0o1000, 0o1644,
    0o2000, 0o2644, 0o2755, 0o4000, 0o4755, 0o6755, 0o7000, 0o7777,
  ];
  for (const mode of fileModes) await b.file(`modes/f${mode.toString(8).padStart(4, '0')}`, `mode ${mode.toString(8)}\n`, { mode });
  for (const mode of [0o000, 0o111, 0o500, 0o555, 0o700, 0o711, 0o755, 0o1777, 0o2755, 0o3775, 0o7777]) {
    const d = `modes/d${mode.toString(8).padStart(4, '0')}`;
    await b.dir(d, { mode });
    await b.file(`${d}/inside.txt`, `inside a ${mode.toString(8)} directory\n`, { mode: 0o644 });
    await b.dir(`${d}/sub`, { mode: 0o700 });
    await b.file(`${d}/sub/deeper.txt`, 'deeper\n', { mode: 0o400 });
  }

  // --- Owners: foreign uids/gids, nobody, very large ids; set-id bits on a foreign-owned file.
  await b.file('owners/u1234-g5678.txt', 'owned by 1234:5678\n', { uid: 1234, gid: 5678 });
  await b.file('owners/nobody.txt', 'owned by 65534:65534\n', { uid: 65534, gid: 65534 });
  await b.file('owners/root-g1234.txt', 'owned by 0:1234\n', { uid: 0, gid: 1234 });
  await b.file('owners/large-ids.txt', 'owned by 3000000000:4000000000\n', { uid: 3_000_000_000, gid: 4_000_000_000 });
  await b.file('owners/suid-1234', 'set-id bits on a foreign-owned file\n', { uid: 1234, gid: 5678, mode: 0o6755 });
  await b.dir('owners/dir-1234', { uid: 1234, gid: 5678, mode: 0o2770 });
  await b.file('owners/dir-1234/inner.txt', 'inner\n', { uid: 65534, gid: 1234 });

  // --- Times: before the epoch, exactly the epoch, whole seconds, after 2038 and far future.
  await b.file('times/pre-epoch', 'before 1970\n', { mtimeNs: -1_234_567_890n * NS_PER_S + 123_456_789n });
  await b.file('times/epoch', 'exactly 1970-01-01T00:00:00Z\n', { mtimeNs: 0n });
  await b.file('times/whole-second', 'no fractional part\n', { mtimeNs: 1_600_000_000n * NS_PER_S });
  await b.file('times/one-ns', 'one nanosecond past a second\n', { mtimeNs: 1_600_000_000n * NS_PER_S + 1n });
  await b.file('times/y2038', 'after the 32-bit rollover\n', { mtimeNs: 2_147_483_648n * NS_PER_S + 999_999_999n });
  await b.file('times/y2100', 'far future\n', { mtimeNs: 4_102_444_800n * NS_PER_S + 500_000_001n });
  await b.symlink('times/link-2001', 'whole-second', { mtimeNs: 978_307_200n * NS_PER_S + 42n });

  // --- Special files.
  await b.fifo('special/fifo', { mode: 0o640, uid: 1234, gid: 5678 });

  // --- Extended attributes on a file and a directory, binary values with NUL bytes, an empty value.
  const binary = Buffer.from([0x00, 0x01, 0x00, 0xff, 0xfe, 0x00, 0x0a, 0x3d, 0x00]);
  const xattrFile = 'xattrs/file.txt';
  await b.file(xattrFile, 'has extended attributes\n', {
    xattrs: {
      'user.comment': Buffer.from('hello world'),
      'user.binary': binary,
      'user.empty': Buffer.alloc(0),
      'user.unicode.\u540d\u524d': Buffer.from('\u5024 = value'),
      'user.big': rng.bytes(1000),
    },
  });
  const xattrDir = 'xattrs/dir';
  await b.dir(xattrDir, { xattrs: { 'user.dir': Buffer.from('directory attr'), 'user.binary': binary } });
  await b.file(`${xattrDir}/plain.txt`, 'no attributes here\n');
  await b.file('xattrs/setuid-with-attr', 'set-id and xattr\n', { mode: 0o4750, uid: 1234, gid: 5678, xattrs: { 'user.x': Buffer.from('y') } });

  // --- Large files: sparse (ends in a hole), bigger than the maximum chunk, exactly max chunk + 1, a duplicate.
  const sparseFile = 'big/sparse.bin';
  const extents = [
    { offset: Math.floor(sparseFileBytes / 1024) + 123, data: rng.bytes(2048) },
    { offset: Math.floor(sparseFileBytes / 2) - 1000, data: rng.bytes(2048) },
    { offset: sparseFileBytes - 64 * KiB, data: rng.bytes(1500) },
  ];
  await b.sparseFile(sparseFile, sparseFileBytes, extents);
  const bigFile = 'big/random.bin';
  const bigData = rng.bytes(bigFileBytes);
  await b.file(bigFile, bigData, { mode: 0o600 });
  await b.file('big/random-copy.bin', bigData, { mode: 0o644 });
  await b.file('big/max-chunk-plus-one.bin', rng.bytes(Math.min(8 * MiB + 1, bigFileBytes + 1)));

  // --- Many tiny files.
  for (let i = 0; i < tinyFiles; i++) {
    const d = `tiny/d${String(i % tinyDirs).padStart(3, '0')}`;
    const len = rng.int(0, 64);
    await b.file(`${d}/f${String(i).padStart(5, '0')}.txt`, rng.bytes(len));
  }

  await b.finish();
  return {
    root,
    sparseFile,
    bigFile,
    deepFile,
    fifo: 'special/fifo',
    hardlinks: hl,
    unicodeDir: u,
    xattrFile,
    xattrDir,
    entries: b.entries,
  };
}
