// The one entry type every source produces for the one tree builder (snapshot/tree-builder.ts): a
// directory walk (snapshot/directory-entries.ts), a volume read through its mountpoint or as a tar
// from a helper container (snapshot/volume-archiver.ts, sources/volume-helper.ts), and standard
// input (snapshot/stdin-archiver.ts). An entry is its tree node (name and metadata, exactly as the
// tree stores them) and a way to read its content; the builder fills in a file's content and a
// directory's subtree.
import type { CachedFile } from './file-cache.js';
import type { TreeNode } from '../../../protocol/snapshot.js';

/** How a file's bytes are read, or that they need not be. */
export type EntryContent =
  /** An open file (the builder reads it and closes it); the node records its full stat, checked again after the read. */
  | { kind: 'fd'; fd: number }
  /** A stream of the bytes, read at most once; `sized`: the node's size is what the source announced (a stream that ends elsewhere was changed while read), else it is what the stream holds. */
  | { kind: 'stream'; read: () => AsyncIterable<Uint8Array>; sized: boolean }
  /** Unchanged since the parent snapshot: these content IDs, nothing read. */
  | { kind: 'known'; ids: string[] };

export interface SourceEntry {
  /** Below the source's root, '/'-separated; '' is the root itself. Parents come before their children. */
  rel: string;
  /** Shown in warnings and the progress line. */
  path: string;
  /** Name (a byte string, util/byte-names.ts) and metadata as the tree stores them. */
  node: TreeNode;
  /** Files: how to get the content (none: an empty file). */
  content?: EntryContent;
  /** A further name of the earlier file `linkTo` (volumes: hardlink groups get portable inode numbers). */
  linkTo?: string;
  /** Directories: their tree in the parent snapshot, whose ID is reused when nothing under it changed. */
  parentTree?: { id: string; nodes: TreeNode[] } | null;
  /** The node's mtime was rounded (volumes keep whole seconds): the exact one, for the snapshot's metadata. */
  exactMtimeNs?: bigint;
  /** Volume mountpoint path: the full stat, keying the unchanged-file cache. */
  local?: Omit<CachedFile, 'content'>;
}
