// The snapshot and tree object formats (JSON inside encrypted blobs). See SPEC.md "Trees" and "Snapshots".

export const SNAPSHOT_VERSION = 1;
/**
 * The tree format written when a tree holds a name or symlink target that is not valid UTF-8
 * (`nameBytes` / `targetBytes`, SPEC 6). Readers take both versions.
 */
export const TREE_VERSION = 2;
/** The tree format of trees whose names and targets are all valid UTF-8 (as written before version 2). */
export const TREE_VERSION_UTF8 = 1;

export type NodeType = 'file' | 'dir' | 'symlink' | 'fifo' | 'chardev' | 'blockdev' | 'socket';

export interface TreeNode {
  /** In memory: bytes that are not valid UTF-8 as U+DC80+byte (agent/src/util/byte-names.ts). Stored as `nameBytes` then. */
  name: string;
  type: NodeType;
  /** Permission bits including setuid, setgid and sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Nanoseconds since the epoch, as a decimal string (exceeds 2^53). Whole seconds in the portable volume profile. */
  mtimeNs: string;
  /** Absent in the portable volume profile (SPEC 6.1): restore then sets atime to mtime. */
  atimeNs?: string;
  ctimeNs?: string;
  /** Inode and device: used to find unchanged files and hardlinks; never restored. Portable volume profile: synthetic (SPEC 6.1). */
  inode: string;
  dev: string;
  nlink: number;
  size: number;
  /** file: chunk IDs in order. */
  content?: string[];
  /** dir: the tree ID of its entries. */
  subtree?: string;
  /** symlink: the target (in memory like `name`; stored as `targetBytes` when not valid UTF-8). */
  target?: string;
  /** chardev/blockdev: device number. */
  rdev?: number;
  /** Extended attributes: name -> base64 value. */
  xattrs?: Record<string, string>;
  /** The file changed while it was read: its content may mix old and new bytes. */
  changedDuringBackup?: boolean;
}

/**
 * A node as stored in a tree blob: like TreeNode, except that a name or target that is not valid
 * UTF-8 is `nameBytes` / `targetBytes` (base64 of the exact bytes) instead (version 2 only).
 */
export interface StoredTreeNode {
  name?: string;
  nameBytes?: string;
  target?: string;
  targetBytes?: string;
  [field: string]: unknown;
}

export interface Tree {
  version: number;
  nodes: TreeNode[];
}

export interface SnapshotSummary {
  files: number;
  dirs: number;
  /** Logical bytes of all files in the snapshot. */
  sizeBytes: number;
  /** Bytes this snapshot added to the repository (sealed blob bytes of new blobs). */
  addedBytes: number;
  /** Files read again (new or changed since the parent) versus reused from the parent. */
  filesRead: number;
  filesReused: number;
  warnings: string[];
  durationMs: number;
}

export interface Snapshot {
  version: number;
  time: string;
  hostname: string;
  paths: string[];
  tags: string[];
  /** The configured source this snapshot belongs to (cairn.yaml `sources`); absent for ad-hoc backups, which are grouped by their paths. */
  source?: string;
  tree: string;
  parent?: string;
  /** The blob ID of a metadata blob (a data blob holding SnapshotMeta JSON), e.g. the docker inspect of the volumes' containers (SPEC 7). */
  meta?: string;
  /** Set when the snapshot was rewritten (`cairn tag`): the ID of the snapshot as the backup made it (restic's `original`). */
  original?: string;
  summary: SnapshotSummary;
}

/** The metadata blob a snapshot may reference (`meta`): JSON, sealed like file data. */
export interface SnapshotMeta {
  version: 1;
  /** Each Docker volume backed up: its path in the snapshot, how it was read, and the full `docker inspect` of the containers mounting it. */
  volumes?: Array<{
    name: string;
    path: string;
    via: 'mountpoint' | 'helper';
    containers: unknown[];
    /**
     * Mountpoint reads only: the exact mtime (ns since the epoch, decimal) of each entry whose mtime
     * is not a whole second, by path below the volume ('' = its root). Trees keep whole seconds
     * (both read paths give the same trees); restores put these back.
     */
    mtimesNs?: Record<string, string>;
  }>;
}

/** One row of `cairn snapshots --json`. */
export interface SnapshotListing {
  id: string;
  shortId: string;
  time: string;
  hostname: string;
  paths: string[];
  tags: string[];
  source?: string;
  sizeBytes: number;
  addedBytes: number;
  files: number;
  parent?: string;
  /** Rewritten by `cairn tag`: the ID the backup gave it. */
  original?: string;
  /** Pinned (`cairn pin`): never removed by forget. */
  pinned: boolean;
}

/** A volume file as last read through its mountpoint (SPEC 8, sublevel `volumeFiles`): the full stat (size, exact mtime and ctime, inode, device) and its chunk IDs. */
export interface CachedFile {
  size: number;
  mtimeNs: string;
  ctimeNs: string;
  inode: string;
  dev: string;
  content: string[];
}
