// Finding and damaging pack files in a Cairn home, the way a bad disk or a careless hand would.
import { execFile } from 'node:child_process';
import { mkdir, open, readdir, rm, stat, truncate } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface PackFile {
  id: string;
  path: string;
  size: number;
}

export function packsDir(home: string): string {
  return join(home, 'repo', 'packs');
}

/**
 * Pack files below a pack directory (<2 hex>/<64 hex>), sorted by ID; [] when the directory is absent.
 * A running agent may delete a pack between the listing and the stat (a friend's sweep): such a pack is
 * simply not listed, as it would not be a moment later.
 */
export async function packFilesIn(dir: string): Promise<PackFile[]> {
  const out: PackFile[] = [];
  for (const sub of (await readdir(dir).catch(ifGone([] as string[]))).sort()) {
    if (!/^[0-9a-f]{2}$/.test(sub)) continue;
    for (const name of (await readdir(join(dir, sub)).catch(ifGone([] as string[]))).sort()) {
      if (!/^[0-9a-f]{64}$/.test(name)) continue;
      const path = join(dir, sub, name);
      const st = await stat(path).catch(ifGone(null));
      if (st) out.push({ id: name, path, size: st.size });
    }
  }
  return out;
}

/** The IDs of the pack files below a pack directory (a home's packs/ or a friend's hosted/<owner>/), sorted. */
export async function packIdsIn(dir: string): Promise<string[]> {
  return (await packFilesIn(dir)).map((p) => p.id);
}

/** A catch handler answering `value` for ENOENT and rethrowing anything else. */
function ifGone<T>(value: T): (e: NodeJS.ErrnoException) => T {
  return (e) => {
    if (e.code === 'ENOENT') return value;
    throw e;
  };
}

/** Every pack file: $HOME/repo/packs/<2 hex>/<64 hex>. Temp files and other names are ignored. */
export async function listPacks(home: string): Promise<PackFile[]> {
  return packFilesIn(packsDir(home));
}

/** Names in packs/ (recursively) that are not <2 hex>/<64 hex>: leftovers such as temp files. */
export async function strayPackFiles(home: string): Promise<string[]> {
  const dir = packsDir(home);
  const out: string[] = [];
  for (const sub of await readdir(dir)) {
    const st = await stat(join(dir, sub));
    if (!st.isDirectory()) {
      out.push(sub);
      continue;
    }
    for (const name of await readdir(join(dir, sub))) {
      if (!/^[0-9a-f]{2}$/.test(sub) || !/^[0-9a-f]{64}$/.test(name) || !name.startsWith(sub)) out.push(`${sub}/${name}`);
    }
  }
  return out;
}

/** `cp -a src dst` (dst must not exist): a byte-exact, metadata-preserving copy of a home. */
export async function copyHome(src: string, dst: string): Promise<void> {
  await mkdir(dirname(dst), { recursive: true });
  await run('cp', ['-a', src, dst]);
}

/** XORs the byte at `offset` with `mask` (default 0x01); returns the old and new byte. */
export async function flipByte(path: string, offset: number, mask = 0x01): Promise<{ before: number; after: number }> {
  const fh = await open(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    const { bytesRead } = await fh.read(b, 0, 1, offset);
    if (bytesRead !== 1) throw new Error(`flipByte: ${path} has no byte at ${offset}`);
    const before = b[0] as number;
    b[0] = before ^ mask;
    await fh.write(b, 0, 1, offset);
    return { before, after: b[0] as number };
  } finally {
    await fh.close();
  }
}

export async function truncatePack(path: string, length: number): Promise<void> {
  await truncate(path, length);
}

export async function deletePack(path: string): Promise<void> {
  await rm(path);
}

/** Reads the pack's trailer: the last 4 bytes, little-endian length of the sealed header before it. */
export async function headerRegion(pack: PackFile): Promise<{ start: number; end: number } | undefined> {
  if (pack.size < 12) return undefined;
  const fh = await open(pack.path, 'r');
  try {
    const b = Buffer.alloc(4);
    await fh.read(b, 0, 4, pack.size - 4);
    const len = b.readUInt32LE(0);
    if (len + 4 + 8 > pack.size) return undefined;
    return { start: pack.size - 4 - len, end: pack.size };
  } finally {
    await fh.close();
  }
}
