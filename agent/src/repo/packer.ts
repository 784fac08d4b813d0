// Collects sealed blobs into packs of about PACK_TARGET_BYTES and hands finished packs to the store.
// Data blobs and metadata blobs (trees, snapshots) go to separate packs. A pack is written as it is
// assembled (store/pack-file-writer.ts: a temp file, appended in order, hashed on the way), so no
// pack-sized buffer is held: small blobs are gathered in a slab of SLAB_BYTES, larger ones are
// appended as they come, and add() waits for its bytes to reach the file (memory stays bounded by
// what is being appended). A finished pack is made durable and named (fsync, rename) before its
// blobs enter the index, so the index never points at bytes that are not durable. At most
// MAX_PACKS_IN_FLIGHT finished packs wait for their fsync at once.
// A pack that cannot be written (a full disk) fails the operation that is filling the packer: every
// later add() and flush() throws, so that operation cannot commit anything that leans on the lost
// blobs. abandon() then drops what that operation left (open packs and their temp files, the
// failure), and the packer serves the next operation as new (Repository.writeLock calls it when a
// writer fails).
import { createSha256 } from '../crypto/ids.js';
import { PackFileWriter, type PackFileHome } from '../store/pack-file-writer.js';
import { BlobType } from './blob.js';
import type { BlobIndex } from './index.js';
import { encodeHeader, PACK_MAGIC, type PackEntry } from './pack-format.js';

export const PACK_TARGET_BYTES = 16 * 1024 * 1024;
const MAX_PACKS_IN_FLIGHT = 1;

/** Small sealed blobs are copied into slabs of this size, appended to the pack file when full. */
const SLAB_BYTES = 1024 * 1024;
const SLAB_MAX_BLOB_BYTES = 64 * 1024;

class OpenPack {
  readonly entries: PackEntry[] = [];
  /** Bytes of the pack so far (the magic and every blob added), appended or in the slab. */
  bytes = PACK_MAGIC.length;
  private readonly hash = createSha256();
  private writer: Promise<PackFileWriter> | undefined;
  /** The appends so far, in order; rejects with the first failure. */
  private written: Promise<void> = Promise.resolve();
  private slab: Buffer | undefined;
  private slabUsed = 0;

  /** No file until the first blob: a pack that gets none (most meta packs between commits) leaves nothing. */
  constructor(private readonly home: PackFileHome) {}

  get empty(): boolean {
    return this.entries.length === 0;
  }

  /** Adds a blob; resolves once the bytes before it that had to go to the file are there. */
  add(entry: PackEntry, sealed: Buffer): Promise<void> {
    if (this.entries.length === 0) this.queue([PACK_MAGIC]);
    this.entries.push(entry);
    this.bytes += sealed.length;
    if (sealed.length > SLAB_MAX_BLOB_BYTES) {
      this.flushSlab();
      this.queue([sealed]);
      return this.written;
    }
    const full = this.slab !== undefined && this.slabUsed + sealed.length > this.slab.length;
    if (full) this.flushSlab();
    this.slab ??= Buffer.allocUnsafeSlow(SLAB_BYTES);
    sealed.copy(this.slab, this.slabUsed);
    this.slabUsed += sealed.length;
    // a full slab went to the file: wait for it (at most one slab is appended while the next fills)
    return full ? this.written : Promise.resolve();
  }

  /** Appends the header and makes the pack durable under its ID; resolves with the ID. */
  async finish(header: Buffer): Promise<string> {
    this.flushSlab();
    this.queue([header]);
    const id = this.hash.digestHex();
    await this.written;
    await (await this.opened()).finish(id);
    return id;
  }

  /** Drops the pack's temp file once its appends have settled. */
  async abort(): Promise<void> {
    await this.written.catch(() => undefined);
    if (this.writer) await (await this.writer.catch(() => undefined))?.abort();
  }

  private flushSlab(): void {
    if (!this.slab || this.slabUsed === 0) return;
    const part = this.slab.subarray(0, this.slabUsed);
    this.slab = undefined;
    this.slabUsed = 0;
    this.queue([part]);
  }

  /** Hashes `parts` now and appends them after everything queued before. */
  private queue(parts: Uint8Array[]): void {
    for (const p of parts) this.hash.update(p);
    this.written = this.written.then(async () => (await this.opened()).append(parts));
    this.written.catch(() => undefined); // seen by add(), finish() or abort()
  }

  private opened(): Promise<PackFileWriter> {
    this.writer ??= PackFileWriter.create(this.home);
    return this.writer;
  }
}

export class Packer {
  private readonly store: PackFileHome;
  private readonly index: BlobIndex;
  private readonly metaKey: Buffer;
  private readonly open: { data: OpenPack; meta: OpenPack };
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown;
  /** Bytes of packs written by this packer. */
  packedBytes = 0;
  packsWritten = 0;

  constructor(store: PackFileHome, index: BlobIndex, metaKey: Buffer) {
    this.store = store;
    this.index = index;
    this.metaKey = metaKey;
    this.open = { data: new OpenPack(store), meta: new OpenPack(store) };
  }

  /** Adds a sealed blob; resolves once the blob is in an open pack (in its file or its slab; not yet durable). */
  async add(type: BlobType, id: string, flags: number, rawLength: number, sealed: Buffer): Promise<void> {
    this.throwIfFailed();
    const kind = type === BlobType.data ? 'data' : 'meta';
    const pack = this.open[kind];
    try {
      await pack.add({ type, flags, id, offset: pack.bytes, sealedLength: sealed.length, rawLength }, sealed);
    } catch (err) {
      this.failure ??= err;
      throw this.failure;
    }
    if (pack.bytes >= PACK_TARGET_BYTES && this.open[kind] === pack) {
      this.open[kind] = new OpenPack(this.store);
      await this.write(pack);
    }
  }

  /** Writes every open pack and waits until all packs are durable and indexed. */
  async flush(): Promise<void> {
    for (const kind of ['data', 'meta'] as const) {
      const pack = this.open[kind];
      if (!pack.empty) {
        this.open[kind] = new OpenPack(this.store);
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
   * drops the open packs (and their temp files) and the failure. Blobs already in written packs
   * stay indexed (durable, merely unreferenced until prune); the others are gone, and `dropped`
   * (called in the same synchronous step) lets the caller forget that it was about to store them
   * (Repository: pending).
   */
  async abandon(dropped: () => void = () => undefined): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    const { data, meta } = this.open;
    this.open.data = new OpenPack(this.store);
    this.open.meta = new OpenPack(this.store);
    this.failure = undefined;
    dropped();
    await Promise.all([data.abort(), meta.abort()]);
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  private async write(pack: OpenPack): Promise<void> {
    while (this.inFlight.size >= MAX_PACKS_IN_FLIGHT) await Promise.race(this.inFlight);
    if (this.failure !== undefined) {
      await pack.abort();
      throw this.failure;
    }
    const header = encodeHeader(this.metaKey, pack.entries);
    const size = pack.bytes + header.length;
    const job = (async () => {
      const packId = await pack.finish(header);
      await this.index.addPack(packId, pack.entries);
      this.packedBytes += size;
      this.packsWritten += 1;
    })().catch(async (err: unknown) => {
      this.failure ??= err;
      await pack.abort();
    });
    const tracked = job.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }
}
