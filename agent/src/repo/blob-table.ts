// The in-memory blob index as one flat table instead of a Map of objects: a blob costs 52 bytes in
// a Buffer (its binary ID, a pack number, offset, lengths, type, flags) at a load between about
// 0.53 and 0.8 (it grows by half), so 65-98 bytes, where a Map entry with a hex-string key and an
// object cost about 366 bytes of JS heap. Open addressing with linear probing on the ID's first 32
// bits (IDs are HMACs: uniform); removal shifts the entries after it back, so there are no
// tombstones and lookups stay short.
import { CorruptionError } from '../util/errors.js';
import type { BlobType } from './blob.js';

/** Where a blob's sealed bytes live. */
export interface IndexEntry {
  packId: string;
  offset: number;
  sealedLength: number;
  rawLength: number;
  type: BlobType;
  flags: number;
}

const ID_BYTES = 32;
const SLOT_BYTES = 52;
const PACK_AT = 32;
const OFFSET_AT = 36;
const SEALED_AT = 40;
const RAW_AT = 44;
const TYPE_AT = 48;
const FLAGS_AT = 49;
const USED_AT = 50;
const MIN_SLOTS = 1024;
const U32_MAX = 0xffff_ffff;
const HEX_ID = /^[0-9a-f]{64}$/;

function checkU32(id: string, what: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > U32_MAX) throw new CorruptionError(`blob ${id}: ${what} ${v} is out of range`);
}

export class BlobTable {
  private slots = Buffer.alloc(MIN_SLOTS * SLOT_BYTES);
  private capacity = MIN_SLOTS;
  private count = 0;
  /** Pack IDs by number, with how many entries name each (a number is reused once none does). */
  private readonly packs: Array<string | undefined> = [];
  private readonly packRefs: number[] = [];
  private readonly packNumbers = new Map<string, number>();
  private readonly freePackNumbers: number[] = [];
  private readonly key = Buffer.alloc(ID_BYTES);

  get size(): number {
    return this.count;
  }

  /** Bytes the table holds (slots and pack names), for /metrics and the benchmarks. */
  get bytes(): number {
    return this.slots.length + this.packNumbers.size * 96;
  }

  has(id: string): boolean {
    return this.find(id) >= 0;
  }

  get(id: string): IndexEntry | undefined {
    const slot = this.find(id);
    return slot < 0 ? undefined : this.entryAt(this.slots, slot * SLOT_BYTES);
  }

  set(id: string, e: IndexEntry): void {
    if (id.length !== 64 || !HEX_ID.test(id)) throw new CorruptionError(`blob ID ${JSON.stringify(id)} is not 64 lowercase hex digits`);
    checkU32(id, 'offset', e.offset);
    checkU32(id, 'sealed length', e.sealedLength);
    checkU32(id, 'raw length', e.rawLength);
    if (!Number.isInteger(e.flags) || e.flags < 0 || e.flags > 0xff) throw new CorruptionError(`blob ${id}: flags ${e.flags} are out of range`);
    if ((this.count + 1) * 5 > this.capacity * 4) this.grow(); // before loading the key: growing uses the key buffer
    this.key.write(id, 'hex'); // checked above: 64 hex digits
    let slot = this.probe();
    if (slot >= 0) this.unrefPack(this.slots.readUInt32LE(slot * SLOT_BYTES + PACK_AT));
    else {
      slot = -slot - 1;
      this.count += 1;
    }
    this.write(slot * SLOT_BYTES, e);
  }

  delete(id: string): boolean {
    let slot = this.find(id);
    if (slot < 0) return false;
    const s = this.slots;
    this.unrefPack(s.readUInt32LE(slot * SLOT_BYTES + PACK_AT));
    // backward shift: move later entries of the run into the hole when their home allows it
    for (let next = this.after(slot); s[next * SLOT_BYTES + USED_AT] === 1; next = this.after(next)) {
      const home = s.readUInt32LE(next * SLOT_BYTES) % this.capacity;
      const between = slot <= next ? home > slot && home <= next : home > slot || home <= next;
      if (between) continue;
      s.copy(s, slot * SLOT_BYTES, next * SLOT_BYTES, next * SLOT_BYTES + SLOT_BYTES);
      slot = next;
    }
    s.fill(0, slot * SLOT_BYTES, slot * SLOT_BYTES + SLOT_BYTES);
    this.count -= 1;
    return true;
  }

  /**
   * Every entry, as [hex ID, entry]. Iterates a copy taken when it starts, so entries added or
   * removed meanwhile (another task's pack, a prune) never disturb it.
   */
  *entries(): IterableIterator<[string, IndexEntry]> {
    const s = Buffer.from(this.slots);
    const packs = [...this.packs];
    for (let off = 0; off < s.length; off += SLOT_BYTES) {
      if (s[off + USED_AT] !== 1) continue;
      yield [s.toString('hex', off, off + ID_BYTES), this.entryAt(s, off, packs)];
    }
  }

  /** Loads `id` into the key buffer; false when it is not an ID at all. */
  private loadKey(id: string): boolean {
    return id.length === 64 && HEX_ID.test(id) && this.key.write(id, 'hex') === ID_BYTES;
  }

  private find(id: string): number {
    return this.loadKey(id) ? this.probe() : -1;
  }

  private after(slot: number): number {
    return slot + 1 === this.capacity ? 0 : slot + 1;
  }

  /** The key's slot (>= 0), or -(free slot) - 1 where it would go. */
  private probe(): number {
    const s = this.slots;
    const hash = this.key.readUInt32LE(0);
    for (let slot = hash % this.capacity; ; slot = this.after(slot)) {
      const off = slot * SLOT_BYTES;
      if (s[off + USED_AT] !== 1) return -slot - 1;
      // the first 32 bits first: a cheap test that settles almost every other entry of the run
      if (s.readUInt32LE(off) === hash && s.compare(this.key, 0, ID_BYTES, off, off + ID_BYTES) === 0) return slot;
    }
  }

  private write(off: number, e: IndexEntry): void {
    const s = this.slots;
    this.key.copy(s, off);
    s.writeUInt32LE(this.refPack(e.packId), off + PACK_AT);
    s.writeUInt32LE(e.offset, off + OFFSET_AT);
    s.writeUInt32LE(e.sealedLength, off + SEALED_AT);
    s.writeUInt32LE(e.rawLength, off + RAW_AT);
    s[off + TYPE_AT] = e.type;
    s[off + FLAGS_AT] = e.flags;
    s[off + USED_AT] = 1;
  }

  private entryAt(s: Buffer, off: number, packs = this.packs): IndexEntry {
    return {
      packId: packs[s.readUInt32LE(off + PACK_AT)] as string,
      offset: s.readUInt32LE(off + OFFSET_AT),
      sealedLength: s.readUInt32LE(off + SEALED_AT),
      rawLength: s.readUInt32LE(off + RAW_AT),
      type: s[off + TYPE_AT] as BlobType,
      flags: s[off + FLAGS_AT] as number,
    };
  }

  private grow(): void {
    const old = this.slots;
    this.capacity = Math.ceil(this.capacity * 1.5);
    this.slots = Buffer.alloc(this.capacity * SLOT_BYTES);
    for (let off = 0; off < old.length; off += SLOT_BYTES) {
      if (old[off + USED_AT] !== 1) continue;
      old.copy(this.key, 0, off, off + ID_BYTES);
      const slot = -this.probe() - 1;
      old.copy(this.slots, slot * SLOT_BYTES, off, off + SLOT_BYTES);
    }
  }

  private refPack(packId: string): number {
    let n = this.packNumbers.get(packId);
    if (n === undefined) {
      n = this.freePackNumbers.pop() ?? this.packs.length;
      this.packs[n] = packId;
      this.packRefs[n] = 0;
      this.packNumbers.set(packId, n);
    }
    this.packRefs[n] = (this.packRefs[n] as number) + 1;
    return n;
  }

  private unrefPack(n: number): void {
    const left = (this.packRefs[n] as number) - 1;
    this.packRefs[n] = left;
    if (left > 0) return;
    this.packNumbers.delete(this.packs[n] as string);
    this.packs[n] = undefined;
    this.freePackNumbers.push(n);
  }
}
