// A snapshot of one stream (restic's backup --stdin): `pg_dump | cairn backup --stdin`. The snapshot
// holds one file, `/NAME`, at the root of its tree (SPEC 7, "Stdin snapshots"); it restores and
// dumps like any other file. It is committed when the stream ends; an error reading it commits nothing.
import { hostname } from 'node:os';
import { BlobType } from '../repo/blob.js';
import type { Repository } from '../repo/repository.js';
import { isSafeName, saveTree } from '../repo/trees.js';
import type { Clock } from '../util/clock.js';
import { UsageError } from '../util/errors.js';
import type { ArchiveProgress } from './progress.js';
import { SNAPSHOT_VERSION, type Snapshot, type TreeNode } from '../../../protocol/snapshot.js';

/** Chunk bytes handed to the sealers and not yet stored (bounds memory whatever the stream's speed). */
const STDIN_BYTES_IN_FLIGHT = 16 * 1024 * 1024;

/** The file name a stdin snapshot stores when none is given (restic's). */
export const DEFAULT_STDIN_FILENAME = 'stdin';

export function checkStdinFilename(name: string): void {
  if (!isSafeName(name) || Buffer.byteLength(name) > 255)
    throw new UsageError(`--stdin-filename ${JSON.stringify(name)}: a file name (no "/", not "." or "..", at most 255 bytes)`);
}

export class StdinArchiver {
  readonly progress: ArchiveProgress = { filesDone: 0, bytesDone: 0, filesRead: 0, filesReused: 0, dirs: 0, addedBytes: 0, currentPath: '' };
  constructor(
    private readonly repo: Repository,
    private readonly opts: { filename: string; tags: string[]; clock: Clock },
  ) {
    checkStdinFilename(opts.filename);
  }

  async run(input: AsyncIterable<Uint8Array>): Promise<{ id: string; snapshot: Snapshot }> {
    const started = this.opts.clock.now();
    this.progress.currentPath = `/${this.opts.filename}`;
    const { maxBytes } = this.repo.chunker.params;
    const ids: string[] = [];
    const pending: Array<{ done: Promise<void>; bytes: number }> = [];
    let inFlight = 0;
    const save = async (chunk: Buffer) => {
      const index = ids.length;
      ids.push('');
      const done = this.repo.saveBlob(BlobType.data, chunk).then((s) => {
        ids[index] = s.id;
        this.progress.addedBytes += s.addedBytes;
      });
      pending.push({ done, bytes: chunk.length });
      inFlight += chunk.length;
      while (inFlight > STDIN_BYTES_IN_FLIGHT) {
        const first = pending.shift() as { done: Promise<void>; bytes: number };
        await first.done;
        inFlight -= first.bytes;
      }
    };
    let buf = Buffer.allocUnsafe(maxBytes);
    let filled = 0;
    let size = 0;
    const cutAll = async (eof: boolean) => {
      for (;;) {
        if (filled === 0) return;
        const len = this.repo.chunker.cut(buf, 0, filled, eof);
        if (len < 0) return; // more data needed
        const chunk = Buffer.allocUnsafeSlow(len); // its own ArrayBuffer: it can move to a sealer without a copy
        buf.copy(chunk, 0, 0, len);
        await save(chunk);
        buf.copyWithin(0, len, filled);
        filled -= len;
      }
    };
    try {
      for await (const piece of input) {
        let off = 0;
        while (off < piece.length) {
          const n = Math.min(piece.length - off, buf.length - filled);
          buf.set(piece.subarray(off, off + n), filled);
          filled += n;
          off += n;
          size += n;
          this.progress.bytesDone = size;
          if (filled === buf.length) await cutAll(false);
        }
      }
      await cutAll(true);
      await Promise.all(pending.map((p) => p.done));
    } catch (err) {
      await Promise.allSettled(pending.map((p) => p.done));
      throw err;
    }
    buf = Buffer.alloc(0);
    const nowNs = (BigInt(this.opts.clock.now()) * 1_000_000n).toString();
    const file: TreeNode = {
      name: this.opts.filename,
      type: 'file',
      mode: 0o644,
      uid: process.getuid?.() ?? 0,
      gid: process.getgid?.() ?? 0,
      mtimeNs: nowNs,
      atimeNs: nowNs,
      ctimeNs: nowNs,
      inode: '0',
      dev: '0',
      nlink: 1,
      size,
      content: ids,
    };
    const tree = await saveTree(this.repo, [file]);
    this.progress.addedBytes += tree.addedBytes;
    this.progress.filesDone = 1;
    this.progress.filesRead = 1;
    const snapshot: Snapshot = {
      version: SNAPSHOT_VERSION,
      time: new Date(started).toISOString(),
      hostname: hostname(),
      paths: [`/${this.opts.filename}`],
      tags: [...new Set(this.opts.tags)].sort(),
      tree: tree.id,
      summary: {
        files: 1,
        dirs: 0,
        sizeBytes: size,
        addedBytes: this.progress.addedBytes,
        filesRead: 1,
        filesReused: 0,
        warnings: [],
        durationMs: this.opts.clock.now() - started,
      },
    };
    const id = await this.repo.commitSnapshot(snapshot);
    return { id, snapshot };
  }
}
