// Collects sealed blobs into packs of about PACK_TARGET_BYTES and hands finished packs to the store.
// Data blobs and metadata blobs (trees, snapshots) go to separate packs. A finished pack is written
// (fsync, rename) before its blobs enter the index, so the index never points at bytes that are not
// durable. At most MAX_PACKS_IN_FLIGHT finished packs wait for the disk at once (bounded memory).
// A pack that cannot be written (a full disk) fails the operation that is filling the packer: every
// later add() and flush() throws, so that operation cannot commit anything that leans on the lost
// blobs. abandon() then drops what that operation left (open packs, the failure), and the packer
// serves the next operation as new (Repository.writeLock calls it when a writer fails).
import { sha256Hex } from '../crypto/ids.js';
import type { PackStore } from '../store/pack-store.js';
import { BlobType } from './blob.js';
import type { BlobIndex } from './index.js';
import { encodeHeader, PACK_MAGIC, type PackEntry } from './pack-format.js';

export const PACK_TARGET_BYTES = 16 * 1024 * 1024;
const MAX_PACKS_IN_FLIGHT = 1;

/** Small sealed blobs are copied into slabs of this size owned by the pack. */
const SLAB_BYTES = 1024 * 1024;
const SLAB_MAX_BLOB_BYTES = 64 * 1024;

interface OpenPack {
  parts: Buffer[];
  entries: PackEntry[];
  bytes: number;
  slab: Buffer | undefined;
  slabUsed: number;
}

function emptyPack(): OpenPack {
  return { parts: [PACK_MAGIC], entries: [], bytes: PACK_MAGIC.length, slab: undefined, slabUsed: 0 };
}

/**
 * Keeps a small blob in the pack's own slab: a small Buffer is usually a slice of a shared 8 KiB
 * pool, and thousands of them in an open pack would pin thousands of pools (8x the memory).
 */
function keep(pack: OpenPack, sealed: Buffer): Buffer {
  if (sealed.length > SLAB_MAX_BLOB_BYTES) return sealed;
  if (!pack.slab || pack.slabUsed + sealed.length > pack.slab.length) {
    pack.slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    pack.slabUsed = 0;
  }
  const copy = pack.slab.subarray(pack.slabUsed, pack.slabUsed + sealed.length);
  sealed.copy(copy);
  pack.slabUsed += sealed.length;
  return copy;
}

export class Packer {
  private readonly store: PackStore;
  private readonly index: BlobIndex;
  private readonly metaKey: Buffer;
  private readonly open = { data: emptyPack(), meta: emptyPack() };
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown;
  /** Bytes of packs written by this packer. */
  packedBytes = 0;
  packsWritten = 0;

  constructor(store: PackStore, index: BlobIndex, metaKey: Buffer) {
    this.store = store;
    this.index = index;
    this.metaKey = metaKey;
  }

  /** Adds a sealed blob; resolves once the blob is in an open pack (not yet durable). */
  async add(type: BlobType, id: string, flags: number, rawLength: number, sealed: Buffer): Promise<void> {
    this.throwIfFailed();
    const kind = type === BlobType.data ? 'data' : 'meta';
    const pack = this.open[kind];
    pack.entries.push({ type, flags, id, offset: pack.bytes, sealedLength: sealed.length, rawLength });
    pack.parts.push(keep(pack, sealed));
    pack.bytes += sealed.length;
    if (pack.bytes >= PACK_TARGET_BYTES) {
      this.open[kind] = emptyPack();
      await this.write(pack);
    }
  }

  /** Writes every open pack and waits until all packs are durable and indexed. */
  async flush(): Promise<void> {
    for (const kind of ['data', 'meta'] as const) {
      const pack = this.open[kind];
      if (pack.entries.length > 0) {
        this.open[kind] = emptyPack();
        await this.write(pack);
      }
    }
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    this.throwIfFailed();
  }

  /** A pack write failed since the last abandon(): the current operation cannot commit. */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  /**
   * Forgets a failed (or given up) operation's blobs: waits until no pack is being written, then
   * drops the open packs and the failure. Blobs already in written packs stay indexed (durable,
   * merely unreferenced until prune); the others are gone, and `dropped` (called in the same
   * synchronous step) lets the caller forget that it was about to store them (Repository: pending).
   */
  async abandon(dropped: () => void = () => undefined): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    this.open.data = emptyPack();
    this.open.meta = emptyPack();
    this.failure = undefined;
    dropped();
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  private async write(pack: OpenPack): Promise<void> {
    while (this.inFlight.size >= MAX_PACKS_IN_FLIGHT) await Promise.race(this.inFlight);
    this.throwIfFailed();
    const parts = [...pack.parts, encodeHeader(this.metaKey, pack.entries)];
    const packId = sha256Hex(parts);
    const size = parts.reduce((n, p) => n + p.length, 0);
    const job = (async () => {
      await this.store.put(packId, parts);
      await this.index.addPack(packId, pack.entries);
      this.packedBytes += size;
      this.packsWritten += 1;
    })().catch((err: unknown) => {
      this.failure ??= err;
    });
    const tracked = job.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }
}
