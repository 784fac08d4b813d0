// Blob types and the associated data that binds a sealed blob to its ID and type.

export const BlobType = { data: 0, tree: 1, snapshot: 2 } as const;
export type BlobType = (typeof BlobType)[keyof typeof BlobType];

export const BLOB_TYPE_NAMES: Record<BlobType, string> = { 0: 'data', 1: 'tree', 2: 'snapshot' };

export function isBlobType(n: number): n is BlobType {
  return n === 0 || n === 1 || n === 2;
}

const BLOB_AD_PREFIX = Buffer.from('cairn/v1/blob');

/** AD = "cairn/v1/blob" || type (1 byte) || id (32 bytes). */
export function blobAd(type: BlobType, idHex: string): Buffer {
  return Buffer.concat([BLOB_AD_PREFIX, Buffer.from([type]), Buffer.from(idHex, 'hex')]);
}
