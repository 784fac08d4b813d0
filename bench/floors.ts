// The floor of each stage of a first backup on this machine (issue 20 item 1): the least CPU each
// stage costs here, on one core, for the data set's bytes, measured with the simplest loop around
// the same primitives Cairn uses (its own FastCDC chunker, HMAC-SHA256 blob IDs, zstd level 3
// through its compress(), XChaCha20-Poly1305 through its seal(), SHA-256 of the packs). The
// harness runs them on its own main thread, one stage at a time over batches of whole files, and
// takes the thread's CPU time (process.threadCpuUsage) around each stage of each batch.
import { randomBytes } from 'node:crypto';
import { closeSync, lstatSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { FastCdc, gearTable } from '../agent/src/chunker/fastcdc.js';
import { DEFAULT_CHUNKER, parseChunkerName } from '../agent/src/chunker/params.js';
import { seal } from '../agent/src/crypto/aead.js';
import { blobId, createSha256 } from '../agent/src/crypto/ids.js';
import { blobAd, BlobType } from '../agent/src/repo/blob.js';
import { compress } from '../agent/src/repo/compress.js';

/** Read buffer of the read floor: Cairn's maximum chunk, what it reads a large file with. */
const READ_BUFFER_BYTES = 8 * 1024 * 1024;
/**
 * Whole files are gathered into batches of about this many bytes; each stage runs over a batch at
 * once. As large as Cairn's read buffer: Cairn chunks and hashes bytes it has just read, still in
 * the CPU's cache, and so must the floors. With batches of 64 MiB (more than this machine's cache)
 * the chunk and blob-ID floors came out at twice what Cairn itself spent in those stages.
 */
const BATCH_BYTES = READ_BUFFER_BYTES;

export interface Floor {
  /** The stage of bench/stages.ts this is the floor of. */
  stage: string;
  label: string;
  /** What the loop does, for the report. */
  what: string;
  /** CPU seconds of the harness thread. */
  cpuS: number;
}

export interface Floors {
  /** Bytes of regular files read (the data set's bytes). */
  dataBytes: number;
  files: number;
  floors: Floor[];
}

function cpuS(): number {
  const u = process.threadCpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Every regular file below `roots` (lstat'ed, symlinks not followed), and how many entries were seen. */
function walkAndLstat(roots: readonly string[]): { files: Array<{ path: string; size: number }>; entries: number } {
  const files: Array<{ path: string; size: number }> = [];
  let entries = 0;
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const st = lstatSync(path);
      entries += 1;
      if (st.isDirectory()) walk(path);
      else if (st.isFile()) files.push({ path, size: st.size });
    }
  };
  for (const r of roots) walk(r);
  return { files, entries };
}

/** A whole file, read into a buffer of its size. */
function readWhole(path: string, size: number): Buffer {
  const buf = Buffer.allocUnsafeSlow(size);
  const fd = openSync(path, 'r');
  try {
    let got = 0;
    for (let n = -1; n !== 0 && got < buf.length; got += n) n = readSync(fd, buf, got, buf.length - got, null);
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** Measures every floor over the regular files below `roots`. Synchronous: nothing else runs on the harness meanwhile. */
export function measureFloors(roots: readonly string[]): Floors {
  let t = cpuS();
  const { files, entries } = walkAndLstat(roots);
  const walkS = cpuS() - t;

  // read: open, read to the end, close, through one buffer
  const readBuf = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
  let dataBytes = 0;
  t = cpuS();
  for (const f of files) {
    const fd = openSync(f.path, 'r');
    try {
      for (let n = -1; n !== 0; dataBytes += n) n = readSync(fd, readBuf, 0, readBuf.length, null);
    } finally {
      closeSync(fd);
    }
  }
  const readS = cpuS() - t;

  // chunk, blob ID, compress, seal, pack SHA-256: batches of whole files, read untimed
  const chunker = new FastCdc(parseChunkerName(DEFAULT_CHUNKER), gearTable(randomBytes(32)));
  const idKey = randomBytes(32);
  const dataKey = randomBytes(32);
  const seen = new Set<string>();
  const packHash = createSha256();
  const spent = { chunk: 0, blobid: 0, compress: 0, seal: 0, packhash: 0 };
  const bytes = { unique: 0, sealed: 0 };
  const runBatch = (batch: Buffer[]) => {
    let s = cpuS();
    const chunks: Buffer[] = [];
    for (const buf of batch) {
      let at = 0;
      while (at < buf.length) {
        const len = chunker.cut(buf, at, buf.length, true);
        chunks.push(buf.subarray(at, at + len));
        at += len;
      }
    }
    spent.chunk += cpuS() - s;
    s = cpuS();
    const ids = chunks.map((c) => blobId(idKey, c));
    spent.blobid += cpuS() - s;
    // only chunks not seen before are compressed and sealed (dedup, as a backup does)
    const fresh: Array<{ id: string; data: Buffer }> = [];
    ids.forEach((id, i) => {
      if (seen.has(id)) return;
      seen.add(id);
      fresh.push({ id, data: chunks[i] as Buffer });
      bytes.unique += (chunks[i] as Buffer).length;
    });
    s = cpuS();
    const packed = fresh.map((c) => ({ id: c.id, payload: compress(c.data) ?? c.data }));
    spent.compress += cpuS() - s;
    s = cpuS();
    const sealed = packed.map((c) => seal(dataKey, c.payload, blobAd(BlobType.data, c.id)));
    spent.seal += cpuS() - s;
    s = cpuS();
    for (const b of sealed) packHash.update(b);
    spent.packhash += cpuS() - s;
    for (const b of sealed) bytes.sealed += b.length;
  };
  let batch: Buffer[] = [];
  let batchBytes = 0;
  for (const f of files) {
    const buf = readWhole(f.path, f.size);
    batch.push(buf);
    batchBytes += buf.length;
    if (batchBytes >= BATCH_BYTES) {
      runBatch(batch);
      batch = [];
      batchBytes = 0;
    }
  }
  if (batch.length > 0) runBatch(batch);
  packHash.digestHex();

  const mb = (b: number) => `${(b / 1e6).toFixed(0)} MB`;
  return {
    dataBytes,
    files: files.length,
    floors: [
      { stage: 'walk', label: 'walk + lstat', what: `readdir + lstat of ${entries} entries`, cpuS: walkS },
      { stage: 'read', label: 'read', what: `open, read (8 MiB buffer), close ${files.length} files`, cpuS: readS },
      { stage: 'chunk', label: 'chunk', what: `Cairn's FastCDC (${DEFAULT_CHUNKER}) over all ${mb(dataBytes)}`, cpuS: spent.chunk },
      { stage: 'blobid', label: 'blob IDs', what: `HMAC-SHA256 of every chunk (${mb(dataBytes)})`, cpuS: spent.blobid },
      {
        stage: 'compress',
        label: 'compress',
        what: `zstd level 3 of the ${seen.size} unique chunks (${mb(bytes.unique)})`,
        cpuS: spent.compress,
      },
      { stage: 'seal', label: 'seal', what: `XChaCha20-Poly1305 (sodium-native) of what zstd left of them (${mb(bytes.sealed)} sealed)`, cpuS: spent.seal },
      { stage: 'packhash', label: 'pack SHA-256', what: `SHA-256 of the sealed blobs (${mb(bytes.sealed)})`, cpuS: spent.packhash },
    ],
  };
}
