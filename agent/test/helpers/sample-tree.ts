// Deterministic sample source trees for end-to-end tests, and byte-for-byte tree comparison.
// Everything random here comes from a seeded generator, so a failure can be replayed exactly.
import { createCipheriv, createHash, type Cipher } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** A small seeded PRNG (mulberry32) for decisions, plus an AES-256-CTR keystream for bulk bytes. */
export class Rng {
  private state: number;
  private readonly stream: Cipher;

  constructor(seed: number) {
    this.state = seed >>> 0;
    const key = createHash('sha256').update(`cairn-test-seed:${seed}`).digest();
    this.stream = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)] as T;
  }

  /** `n` incompressible bytes. */
  bytes(n: number): Buffer {
    return this.stream.update(Buffer.alloc(n));
  }
}

const WORDS = (
  'backup restore snapshot pack blob tree chunk index volume docker friend replica ' +
  'encrypt decrypt verify check prune forget schedule retry timeout error warning info debug ' +
  'the a of and to in is for on with as at by from this that be are was were it'
).split(' ');

/** `n` bytes of log-like text: compresses well with zstd but is not trivially repetitive. */
export function compressibleText(rng: Rng, n: number): Buffer {
  const parts: string[] = [];
  let len = 0;
  let line = 0;
  while (len < n) {
    const words: string[] = [];
    const count = rng.range(4, 14);
    for (let i = 0; i < count; i++) words.push(rng.pick(WORDS));
    const s = `2026-11-23T20:${String(line % 60).padStart(2, '0')}:${String(rng.int(60)).padStart(2, '0')}Z worker-${rng.int(16)} ${words.join(' ')} id=${rng.int(1_000_000)}\n`;
    parts.push(s);
    len += s.length;
    line++;
  }
  return Buffer.from(parts.join(''), 'utf8').subarray(0, n);
}

export type SampleEntry =
  { kind: 'random'; path: string; size: number } | { kind: 'text'; path: string; size: number } | { kind: 'symlink'; path: string; target: string };

export interface SampleTreeSpec {
  seed: number;
  entries: SampleEntry[];
}

/** Writes the spec below `root` (created if needed). Returns the total logical bytes of regular files. */
export async function writeSampleTree(root: string, spec: SampleTreeSpec): Promise<number> {
  const rng = new Rng(spec.seed);
  let total = 0;
  await mkdir(root, { recursive: true });
  for (const e of spec.entries) {
    const path = join(root, e.path);
    await mkdir(dirname(path), { recursive: true });
    if (e.kind === 'symlink') {
      await symlink(e.target, path);
      continue;
    }
    await writeFile(path, e.kind === 'random' ? rng.bytes(e.size) : compressibleText(rng, e.size));
    total += e.size;
  }
  return total;
}

/**
 * A mixed tree: some big incompressible files, some compressible text, many small files in nested
 * directories, an empty file, an empty directory-ish nesting and a symlink.
 */
export function mixedTreeSpec(opts: {
  seed: number;
  bigRandom: number[];
  bigText: number[];
  smallFiles: number;
  smallMax?: number;
  dirs?: number;
}): SampleTreeSpec {
  const rng = new Rng(opts.seed ^ 0x5eed);
  const entries: SampleEntry[] = [];
  opts.bigRandom.forEach((size, i) => entries.push({ kind: 'random', path: `${i % 2 ? 'media/' : ''}big-${i}.bin`, size }));
  opts.bigText.forEach((size, i) => entries.push({ kind: 'text', path: `logs/app-${i}.log`, size }));
  const dirs = opts.dirs ?? Math.max(1, Math.ceil(opts.smallFiles / 100));
  const smallMax = opts.smallMax ?? 16 * 1024;
  for (let i = 0; i < opts.smallFiles; i++) {
    const d = i % dirs;
    const dir = `small/d${String(d).padStart(3, '0')}${d % 3 === 0 ? '/deeper/still' : ''}`;
    const size = rng.range(1, smallMax);
    entries.push({ kind: i % 4 === 0 ? 'text' : 'random', path: `${dir}/f${String(i).padStart(5, '0')}.dat`, size });
  }
  entries.push({ kind: 'random', path: 'empty-file', size: 0 });
  entries.push({ kind: 'symlink', path: 'link-to-log', target: 'logs/app-0.log' });
  return { seed: opts.seed, entries };
}

export interface FileFacts {
  kind: 'file' | 'symlink' | 'dir';
  size: number;
  sha256?: string;
  target?: string;
}

/** Every entry below `root` as relative path -> facts (files hashed). Directories included. */
export async function snapshotTree(root: string): Promise<Map<string, FileFacts>> {
  const out = new Map<string, FileFacts>();
  async function walk(rel: string): Promise<void> {
    const abs = rel ? join(root, rel) : root;
    for (const name of (await readdir(abs)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = join(root, r);
      const st = await lstat(p);
      if (st.isDirectory()) {
        out.set(r, { kind: 'dir', size: 0 });
        await walk(r);
      } else if (st.isSymbolicLink()) {
        out.set(r, { kind: 'symlink', size: 0, target: await readlink(p) });
      } else if (st.isFile()) {
        out.set(r, {
          kind: 'file',
          size: st.size,
          sha256: createHash('sha256')
            .update(await readFile(p))
            .digest('hex'),
        });
      } else {
        out.set(r, { kind: 'file', size: -1, sha256: 'special' });
      }
    }
  }
  await walk('');
  return out;
}

/**
 * Compares a restored tree with the source facts. Returns human-readable problems (empty = equal).
 * With allowMissing, entries absent from the restore are fine, but everything present must be right
 * and nothing may be present that the source does not have (e.g. half-written temp files).
 */
export async function compareTree(source: Map<string, FileFacts>, restoredRoot: string, opts: { allowMissing: boolean }): Promise<string[]> {
  const problems: string[] = [];
  let restored: Map<string, FileFacts>;
  try {
    restored = await snapshotTree(restoredRoot);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      restored = new Map();
    } else {
      throw err;
    }
  }
  for (const [rel, got] of restored) {
    const want = source.get(rel);
    if (!want) {
      problems.push(`${rel}: present in the restore but not in the source`);
      continue;
    }
    if (want.kind !== got.kind) {
      problems.push(`${rel}: restored as ${got.kind}, source is ${want.kind}`);
    } else if (want.kind === 'file' && (want.size !== got.size || want.sha256 !== got.sha256)) {
      problems.push(`${rel}: restored content differs (size ${got.size} vs ${want.size}, sha256 ${got.sha256?.slice(0, 12)} vs ${want.sha256?.slice(0, 12)})`);
    } else if (want.kind === 'symlink' && want.target !== got.target) {
      problems.push(`${rel}: symlink target ${got.target} vs ${want.target}`);
    }
  }
  if (!opts.allowMissing) {
    for (const rel of source.keys()) if (!restored.has(rel)) problems.push(`${rel}: missing from the restore`);
  }
  return problems;
}

/** Sum of the sizes of all regular files below `dir` (recursively); 0 when it does not exist. */
export async function duBytes(dir: string): Promise<number> {
  let total = 0;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  for (const name of names) {
    const p = join(dir, name);
    const st = await lstat(p);
    if (st.isDirectory()) total += await duBytes(p);
    else if (st.isFile()) total += st.size;
  }
  return total;
}
