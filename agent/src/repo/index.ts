// The blob index: blob ID -> where its sealed bytes live. Kept in memory for dedup lookups (a flat
// table, blob-table.ts) and persisted in LevelDB; it can always be rebuilt from the pack headers.
import type { StateOp, Sublevels } from '../state/db.js';
import { CorruptionError } from '../util/errors.js';
import { writeError } from '../util/write-errors.js';
import { isBlobType } from './blob.js';
import { BlobTable, type IndexEntry } from './blob-table.js';
import type { PackEntry } from './pack-format.js';

export type { IndexEntry };

/** Index entries read from LevelDB at once when the index is loaded. */
const LOAD_BATCH = 4096;

function encode(e: IndexEntry): string {
  return `${e.packId}:${e.offset}:${e.sealedLength}:${e.rawLength}:${e.type}:${e.flags}`;
}

function decode(id: string, v: string): IndexEntry {
  const [packId, offset, sealedLength, rawLength, type, flags] = v.split(':');
  const t = Number(type);
  if (!packId || !isBlobType(t)) throw new CorruptionError(`index entry for blob ${id} is malformed: ${v}`);
  return { packId, offset: Number(offset), sealedLength: Number(sealedLength), rawLength: Number(rawLength), type: t, flags: Number(flags) };
}

export class BlobIndex {
  private readonly entries = new BlobTable();
  private readonly sub: Sublevels['index'];

  constructor(sub: Sublevels['index']) {
    this.sub = sub;
  }

  async load(): Promise<void> {
    // in batches: an await per entry cost more than the entry itself
    const it = this.sub.iterator();
    try {
      for (let batch = await it.nextv(LOAD_BATCH); batch.length > 0; batch = await it.nextv(LOAD_BATCH))
        for (const [id, v] of batch) this.entries.set(id, decode(id, v));
    } finally {
      await it.close();
    }
  }

  get(id: string): IndexEntry | undefined {
    return this.entries.get(id);
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  get size(): number {
    return this.entries.size;
  }

  all(): IterableIterator<[string, IndexEntry]> {
    return this.entries.entries();
  }

  /** Bytes the in-memory index holds. */
  get bytes(): number {
    return this.entries.bytes;
  }

  /** The writes that forget blobs (prune), for the caller's batch; forgotten() once it is written. */
  removeOps(ids: string[]): StateOp[] {
    return ids.map((id) => ({ type: 'del' as const, sublevel: this.sub, key: id }));
  }

  /** The batch of removeOps(ids) is durable: the blobs leave memory too. */
  forgotten(ids: string[]): void {
    for (const id of ids) this.entries.delete(id);
  }

  /**
   * Records every blob of a pack that is already durably stored. The blobs count as known (dedup)
   * only once LevelDB took the batch: a failed write (a full disk) must not leave entries in memory
   * that a later snapshot could lean on and that a restart would not find.
   */
  async addPack(packId: string, packEntries: PackEntry[]): Promise<void> {
    const entries = packEntries.map(
      (e) => [e.id, { packId, offset: e.offset, sealedLength: e.sealedLength, rawLength: e.rawLength, type: e.type, flags: e.flags }] as const,
    );
    try {
      await this.sub.batch(entries.map(([id, entry]) => ({ type: 'put' as const, key: id, value: encode(entry) })));
    } catch (err) {
      throw writeError(`the index entries of pack ${packId}`, err);
    }
    for (const [id, entry] of entries) this.entries.set(id, entry);
  }
}
