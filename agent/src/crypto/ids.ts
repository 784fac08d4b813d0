// Keyed content IDs: HMAC-SHA256 under a repository key, so holding our packs does not let anyone
// confirm that we store a given file. Hex in APIs and trees, 32 raw bytes in pack headers.
import { createHash, createHmac } from 'node:crypto';

export const ID_BYTES = 32;
export const ID_HEX_CHARS = ID_BYTES * 2;

export function blobId(idKey: Buffer, data: Uint8Array): string {
  return createHmac('sha256', idKey).update(data).digest('hex');
}

/** An incremental unkeyed SHA-256 (a pack hashed as it is written; see sha256Hex). */
export function createSha256(): { update(part: Uint8Array): void; digestHex(): string } {
  const h = createHash('sha256');
  return {
    update: (part) => void h.update(part),
    digestHex: () => h.digest('hex'),
  };
}

/** Unkeyed SHA-256: pack names, which anyone holding the pack can verify. */
export function sha256Hex(data: Uint8Array | Uint8Array[]): string {
  const h = createHash('sha256');
  for (const part of Array.isArray(data) ? data : [data]) h.update(part);
  return h.digest('hex');
}
