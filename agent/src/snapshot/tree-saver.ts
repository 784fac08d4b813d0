// One tree saver for every source: a directory's nodes, sorted by name, encoded (repo/trees.ts) and
// stored as a tree blob, counted in the backup's progress. When the nodes are exactly those of the
// directory's tree in the parent snapshot (nothing under it changed), the parent's tree ID is reused
// without encoding and hashing the tree again: equal nodes encode to equal bytes, so the ID is the same.
import { BlobType } from '../repo/blob.js';
import type { Repository } from '../repo/repository.js';
import { encodeTree, sameNodes, sortNodes } from '../repo/trees.js';
import type { StoreBlob } from './file-saver.js';
import type { ArchiveProgress } from './progress.js';
import type { TreeNode } from '../../../protocol/snapshot.js';

export class TreeSaver {
  constructor(
    private readonly repo: Repository,
    /** Directories and added bytes are counted here. */
    private readonly progress: ArchiveProgress,
    private readonly store: StoreBlob = (type, data, knownId) => repo.saveBlob(type, data, knownId),
  ) {}

  /** Stores the tree of `nodes` (sorted in place) and returns its ID; `parent`: the directory's tree in the parent snapshot. */
  async save(nodes: TreeNode[], parent?: { id: string; nodes: TreeNode[] } | null): Promise<string> {
    sortNodes(nodes);
    if (parent && sameNodes(nodes, parent.nodes) && this.repo.index.has(parent.id)) {
      this.progress.dirs += 1;
      return parent.id;
    }
    const { id, addedBytes } = await this.store(BlobType.tree, encodeTree(nodes));
    this.progress.addedBytes += addedBytes;
    this.progress.dirs += 1;
    return id;
  }
}
