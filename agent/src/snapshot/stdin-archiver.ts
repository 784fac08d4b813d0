// A snapshot of one stream (restic's backup --stdin): `pg_dump | cairn backup --stdin`. The snapshot
// holds one file, `/NAME`, at the root of its tree (SPEC 7, "Stdin snapshots"); it restores and
// dumps like any other file. It is committed when the stream ends; an error reading it commits nothing.
// The stream is a source of one entry for the one tree builder (snapshot/tree-builder.ts), its bytes
// through the one file saver (whose in-flight budget bounds memory whatever the stream's speed).
import { hostname } from 'node:os';
import type { Repository } from '../repo/repository.js';
import { isSafeName } from '../repo/trees.js';
import type { Clock } from '../util/clock.js';
import { CairnError, UsageError } from '../util/errors.js';
import { FileSaver } from './file-saver.js';
import type { ArchiveProgress } from './progress.js';
import type { SourceEntry } from './source-entry.js';
import { TreeBuilder } from './tree-builder.js';
import { TreeSaver } from './tree-saver.js';
import { SNAPSHOT_VERSION, type Snapshot, type TreeNode } from '../../../protocol/snapshot.js';

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
    const path = `/${this.opts.filename}`;
    this.progress.currentPath = path;
    // one entry, the stream's file, into the one tree builder; its times are when the stream ended
    const file: TreeNode = {
      name: this.opts.filename,
      type: 'file',
      mode: 0o644,
      uid: process.getuid?.() ?? 0,
      gid: process.getgid?.() ?? 0,
      mtimeNs: '0',
      atimeNs: '0',
      ctimeNs: '0',
      inode: '0',
      dev: '0',
      nlink: 1,
      size: 0,
    };
    const trees = new TreeSaver(this.repo, this.progress);
    const problems: string[] = [];
    const builder = new TreeBuilder({
      repo: this.repo,
      files: new FileSaver(this.repo, this.progress),
      trees,
      progress: this.progress,
      warn: (m) => problems.push(m),
      notStored: () => undefined,
      where: path,
    });
    const read = await builder.build(oneEntry({ rel: '', path, node: file, content: { kind: 'stream', read: () => input, sized: false } }));
    // the builder leaves out (with a warning) a file it could not read: here that is the whole snapshot
    if (read === undefined) throw new CairnError('E_SOURCE', `standard input not stored: ${problems.join('; ') || 'unreadable'}`);
    const nowNs = (BigInt(this.opts.clock.now()) * 1_000_000n).toString();
    file.mtimeNs = nowNs;
    file.atimeNs = nowNs;
    file.ctimeNs = nowNs;
    const tree = await trees.save([file]);
    const size = file.size;
    this.progress.filesDone = 1;
    this.progress.filesRead = 1;
    const snapshot: Snapshot = {
      version: SNAPSHOT_VERSION,
      time: new Date(started).toISOString(),
      hostname: hostname(),
      paths: [path],
      tags: [...new Set(this.opts.tags)].sort(),
      tree,
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

async function* oneEntry(e: SourceEntry): AsyncGenerator<SourceEntry> {
  yield e;
}
