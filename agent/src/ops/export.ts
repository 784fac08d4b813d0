// Streams out of a snapshot: export (a tar of the snapshot or a path in it) and dump (one file's
// bytes as they are, a folder as export's tar). Each is planned first, so a wrong snapshot or path
// is an error before the first byte (the API answers it with its code, not a cut stream), then
// written.
import type { Writable } from 'node:stream';
import { BlobType } from '../repo/blob.js';
import { exportTar } from '../snapshot/tar-export.js';
import { findNode, normalizeIncludes } from '../snapshot/tree-walk.js';
import { CairnError, UsageError } from '../util/errors.js';
import type { RepoDeps } from './services.js';

/** Writes the planned stream into `out` and ends it. */
export type StreamWriter = (out: Writable) => Promise<void>;

export async function exportPlan(svc: RepoDeps, args: { snapshot: string; path?: string }): Promise<StreamWriter> {
  const { snapshot } = await svc.repo.resolveSnapshot(args.snapshot);
  const includes = args.path ? normalizeIncludes([args.path]) : [];
  if (args.path && !(await findNode(svc.repo, snapshot.tree, includes[0] ?? '')))
    throw new UsageError(`${args.path} is not in snapshot ${args.snapshot}`, 'E_NOT_FOUND');
  return (out) => exportTar(svc.repo, snapshot.tree, includes, out);
}

/** What dump will write: the stream, and what a download saves it as. */
export interface DumpPlan {
  write: StreamWriter;
  /** A file's own name; a folder's name + ".tar" ("snapshot-<short ID>.tar" for the root). */
  filename: string;
  /** A folder (or the root) as a tar stream; otherwise a file's bytes as they are. */
  tar: boolean;
  /** A file's size in bytes (a tar's is not known before it is written). */
  size?: number;
}

/**
 * `dump SNAPSHOT PATH`, as restic has it: a file's bytes as they are, a folder (or the whole
 * snapshot for "/") as a tar stream like export's. Anything else (a symlink, a device) names what it
 * is. Blobs are read one at a time and written with backpressure.
 */
export async function dumpPlan(svc: RepoDeps, args: { snapshot: string; path: string }): Promise<DumpPlan> {
  const { id, snapshot } = await svc.repo.resolveSnapshot(args.snapshot);
  const rel = normalizeIncludes([args.path])[0] ?? '';
  if (rel === '') return { write: (out) => exportTar(svc.repo, snapshot.tree, [], out), filename: `snapshot-${id.slice(0, 8)}.tar`, tar: true };
  const node = await findNode(svc.repo, snapshot.tree, rel);
  if (!node) throw new UsageError(`${args.path} is not in snapshot ${args.snapshot}`, 'E_NOT_FOUND');
  if (node.type === 'dir') return { write: (out) => exportTar(svc.repo, snapshot.tree, [rel], out), filename: `${node.name}.tar`, tar: true };
  if (node.type !== 'file') throw new UsageError(`${args.path} is a ${node.type} in snapshot ${args.snapshot}, not a file or folder: nothing to dump`);
  const write: StreamWriter = async (out) => {
    for (const id of node.content ?? []) {
      const data = await svc.repo.loadBlob(id, BlobType.data);
      if (!out.write(data))
        // a reader gone ends the dump: an output destroyed without an error only closes
        await new Promise<void>((resolve, reject) => {
          out.once('drain', resolve);
          out.once('error', reject);
          out.once('close', () => reject(new CairnError('E_OUTPUT_CLOSED', 'the reader of the dump closed it early')));
        });
    }
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  };
  return { write, filename: node.name, tar: false, size: node.size };
}
