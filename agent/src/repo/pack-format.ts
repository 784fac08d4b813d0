// Pack byte layout (see protocol/SPEC.md, "Packs"):
//   pack   = MAGIC(8) blob* header headerLength(u32 LE)
//   header = seal(metaKey, count(u32 LE) entry*, AD = "cairn/v1/pack-header")
//   entry  = type(u8) flags(u8) id(32) sealedLength(u32 LE) rawLength(u32 LE)   -- 42 bytes
// Blob offsets are implicit: the first starts at 8, each next one where the previous ended.
import { open, seal, SEAL_OVERHEAD_BYTES } from '../crypto/aead.js';
import { ID_BYTES } from '../crypto/ids.js';
import { CorruptionError } from '../util/errors.js';
import { isBlobType, type BlobType } from './blob.js';

export const PACK_MAGIC = Buffer.from('CAIRNPK\x01', 'latin1');
export const PACK_ENTRY_BYTES = 2 + ID_BYTES + 4 + 4;
export const PACK_TRAILER_BYTES = 4;
export const FLAG_ZSTD = 1;
/** A header may list at most this many blobs (bounds what a damaged length field can make us allocate). */
export const MAX_PACK_ENTRIES = 1_000_000;
const HEADER_AD = Buffer.from('cairn/v1/pack-header');

export interface PackEntry {
  type: BlobType;
  flags: number;
  id: string;
  offset: number;
  sealedLength: number;
  rawLength: number;
}

export function encodeHeader(metaKey: Buffer, entries: PackEntry[]): Buffer {
  const plain = Buffer.alloc(4 + entries.length * PACK_ENTRY_BYTES);
  plain.writeUInt32LE(entries.length, 0);
  let p = 4;
  for (const e of entries) {
    plain[p] = e.type;
    plain[p + 1] = e.flags;
    plain.write(e.id, p + 2, 'hex');
    plain.writeUInt32LE(e.sealedLength, p + 2 + ID_BYTES);
    plain.writeUInt32LE(e.rawLength, p + 6 + ID_BYTES);
    p += PACK_ENTRY_BYTES;
  }
  const sealed = seal(metaKey, plain, HEADER_AD);
  const trailer = Buffer.alloc(PACK_TRAILER_BYTES);
  trailer.writeUInt32LE(sealed.length, 0);
  return Buffer.concat([sealed, trailer]);
}

/** Length of the sealed header, read from the pack's last 4 bytes; validated against the pack size. */
export function headerLength(packId: string, packSize: number, trailer: Buffer): number {
  const len = trailer.readUInt32LE(0);
  const maxLen = SEAL_OVERHEAD_BYTES + 4 + MAX_PACK_ENTRIES * PACK_ENTRY_BYTES;
  if (len < SEAL_OVERHEAD_BYTES + 4 || len > maxLen || len + PACK_TRAILER_BYTES + PACK_MAGIC.length > packSize) {
    throw new CorruptionError(`pack ${packId}: header length ${len} does not fit the pack (${packSize} bytes): damaged or truncated`, packId);
  }
  return len;
}

export function decodeHeader(packId: string, metaKey: Buffer, sealedHeader: Buffer, packSize: number): PackEntry[] {
  const plain = open(metaKey, sealedHeader, HEADER_AD);
  if (!plain) throw new CorruptionError(`pack ${packId}: header fails authentication (damaged, or not ours)`, packId);
  const count = plain.readUInt32LE(0);
  if (plain.length !== 4 + count * PACK_ENTRY_BYTES) throw new CorruptionError(`pack ${packId}: header length does not match its entry count`, packId);
  const entries: PackEntry[] = [];
  let offset = PACK_MAGIC.length;
  for (let i = 0, p = 4; i < count; i++, p += PACK_ENTRY_BYTES) {
    const type = plain[p] as number;
    if (!isBlobType(type)) throw new CorruptionError(`pack ${packId}: header entry ${i} has unknown blob type ${type}`, packId);
    const sealedLength = plain.readUInt32LE(p + 2 + ID_BYTES);
    entries.push({
      type,
      flags: plain[p + 1] as number,
      id: plain.toString('hex', p + 2, p + 2 + ID_BYTES),
      offset,
      sealedLength,
      rawLength: plain.readUInt32LE(p + 6 + ID_BYTES),
    });
    offset += sealedLength;
  }
  if (offset + sealedHeader.length + PACK_TRAILER_BYTES !== packSize) {
    throw new CorruptionError(`pack ${packId}: blobs and header do not add up to the pack size`, packId);
  }
  return entries;
}
