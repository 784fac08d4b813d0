// The checker. Structure: every snapshot's trees load and verify, every referenced blob is indexed,
// every indexed pack exists and is long enough. With readData: every pack's bytes hash to its name,
// its header decrypts and agrees with the index, and every blob authenticates and matches its ID.
// Each problem names the pack and, where known, the snapshots and paths it affects.
import { randomInt } from 'node:crypto';
import { sha256Hex } from '../crypto/ids.js';
import { errorMessage } from '../util/errors.js';
import { BlobType } from './blob.js';
import type { Repository } from './repository.js';
import { decodeHeader, headerLength, PACK_MAGIC, PACK_TRAILER_BYTES } from './pack-format.js';
import { loadTree } from './trees.js';

export interface CheckProblem {
  severity: 'error' | 'warning';
  message: string;
  packId?: string;
}

export interface CheckReport {
  problems: CheckProblem[];
  snapshots: number;
  trees: number;
  blobs: number;
  packs: number;
  packsRead: number;
}

/** Where a blob is used: "snapshot 1a2b3c4d path tmp/x/file". */
type Users = Map<string, string>;

export interface CheckOptions {
  readData: boolean;
  /** With readData: which packs to read (all when absent). */
  readPack?: (packId: string) => boolean;
  /** With readData and readPack: at most this many of the packs it selects, in random order (a share by percent). */
  readCount?: (selected: number) => number;
  onPack?: (done: number, total: number) => void;
  /** Friends that confirmed holding a pack (names): a pack missing here but held there is a warning, not an error. */
  heldBy?: Map<string, string[]>;
}

export async function checkRepository(repo: Repository, opts: CheckOptions): Promise<CheckReport> {
  const problems: CheckProblem[] = [];
  const users: Users = new Map();
  const seenTrees = new Set<string>();
  const use = (blob: string, where: string) => {
    if (!users.has(blob)) users.set(blob, where);
  };
  const error = (message: string, packId?: string) => problems.push({ severity: 'error', message, ...(packId ? { packId } : {}) });
  const blobProblem = (blob: string, message: string) => {
    const packId = repo.index.get(blob)?.packId;
    error(`${message}${users.has(blob) ? ` (used by ${users.get(blob)})` : ''}`, packId);
  };

  const snapshots = await repo.listSnapshots();
  for (const { id, snapshot } of snapshots) {
    const label = `snapshot ${id.slice(0, 8)}`;
    const walk = async (treeId: string, prefix: string): Promise<void> => {
      use(treeId, `${label} path /${prefix}`);
      if (seenTrees.has(treeId)) return;
      seenTrees.add(treeId);
      let nodes;
      try {
        nodes = (await loadTree(repo, treeId)).nodes;
      } catch (err) {
        blobProblem(treeId, `${label}: tree of /${prefix} is unreadable: ${errorMessage(err)}`);
        return;
      }
      for (const node of nodes) {
        const rel = prefix ? `${prefix}/${node.name}` : node.name;
        if (node.type === 'dir' && node.subtree) await walk(node.subtree, rel);
        for (const blob of node.content ?? []) {
          use(blob, `${label} path /${rel}`);
          if (!repo.index.has(blob)) error(`${label}: /${rel} needs data blob ${blob}, which is not in the index`);
        }
      }
    };
    await walk(snapshot.tree, '');
    if (snapshot.meta) {
      use(snapshot.meta, `${label} metadata`);
      if (!repo.index.has(snapshot.meta)) error(`${label}: needs metadata blob ${snapshot.meta}, which is not in the index`);
    }
  }

  const packsInIndex = new Map<string, number>();
  for (const [, e] of repo.index.all()) packsInIndex.set(e.packId, Math.max(packsInIndex.get(e.packId) ?? 0, e.offset + e.sealedLength));
  const stored = new Map<string, number>();
  for await (const p of repo.store.list()) stored.set(p.id, p.sizeBytes);
  const blobsOfPack = new Map<string, string[]>();
  for (const [id, e] of repo.index.all()) {
    const list = blobsOfPack.get(e.packId) ?? [];
    list.push(id);
    blobsOfPack.set(e.packId, list);
  }
  const affected = (packId: string) => {
    const names = new Set<string>();
    for (const b of blobsOfPack.get(packId) ?? []) {
      const u = users.get(b);
      if (u) names.add(u);
      if (names.size >= 3) break;
    }
    return names.size > 0 ? ` (affects ${[...names].join('; ')}${(blobsOfPack.get(packId)?.length ?? 0) > 3 ? '; ...' : ''})` : ' (no snapshot uses it)';
  };
  for (const [packId, minSize] of packsInIndex) {
    const size = stored.get(packId);
    const friends = opts.heldBy?.get(packId) ?? [];
    if (size === undefined && friends.length > 0)
      problems.push({
        severity: 'warning',
        message: `pack ${packId} is not on this machine, only at ${friends.join(', ')} (restores fetch it from there)${affected(packId)}`,
        packId,
      });
    else if (size === undefined) error(`pack ${packId} is missing${affected(packId)}`, packId);
    else if (size < minSize + PACK_TRAILER_BYTES)
      error(`pack ${packId} is truncated: ${size} bytes, the index needs more than ${minSize}${affected(packId)}`, packId);
  }
  for (const packId of stored.keys()) {
    if (!packsInIndex.has(packId))
      problems.push({ severity: 'warning', message: `pack ${packId} is not in the index (left by an interrupted backup; prune removes it)`, packId });
  }

  let packsRead = 0;
  if (opts.readData) {
    let ids = [...stored.keys()].filter((id) => packsInIndex.has(id) && (opts.readPack?.(id) ?? true));
    if (opts.readCount) ids = shuffled(ids).slice(0, opts.readCount(ids.length));
    for (const packId of ids) {
      opts.onPack?.(packsRead, ids.length);
      packsRead += 1;
      const err = await verifyPack(repo, packId);
      if (err) error(`pack ${packId}: ${err}${affected(packId)}`, packId);
    }
  }
  return { problems, snapshots: snapshots.length, trees: seenTrees.size, blobs: repo.index.size, packs: stored.size, packsRead };
}

/** Reads one whole pack and verifies everything in it; returns the first problem found. */
async function verifyPack(repo: Repository, packId: string): Promise<string | undefined> {
  let bytes: Buffer;
  try {
    bytes = await repo.store.get(packId);
  } catch (err) {
    return errorMessage(err);
  }
  if (sha256Hex(bytes) !== packId) return `content does not match its name (SHA-256 differs): damaged`;
  if (bytes.length < PACK_MAGIC.length + PACK_TRAILER_BYTES || !bytes.subarray(0, PACK_MAGIC.length).equals(PACK_MAGIC)) return 'not a Cairn pack (bad magic)';
  try {
    const hlen = headerLength(packId, bytes.length, bytes.subarray(bytes.length - PACK_TRAILER_BYTES));
    const entries = decodeHeader(
      packId,
      repo.keys.meta,
      bytes.subarray(bytes.length - PACK_TRAILER_BYTES - hlen, bytes.length - PACK_TRAILER_BYTES),
      bytes.length,
    );
    for (const e of entries) {
      const indexed = repo.index.get(e.id);
      if (indexed && indexed.packId === packId && (indexed.offset !== e.offset || indexed.sealedLength !== e.sealedLength)) {
        return `blob ${e.id} is at a different place than the index says`;
      }
      const entry = { packId, offset: e.offset, sealedLength: e.sealedLength, rawLength: e.rawLength, type: e.type, flags: e.flags };
      repo.openBlob(e.id, e.type as BlobType, entry, bytes.subarray(e.offset, e.offset + e.sealedLength));
    }
  } catch (err) {
    return errorMessage(err).replace(`pack ${packId}: `, '');
  }
  return undefined;
}

/** A copy of `items` in random order (Fisher-Yates with crypto randomness). */
function shuffled<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
