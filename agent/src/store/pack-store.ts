// Where packs live. A pack is an opaque byte string named by the SHA-256 of its bytes; the local
// directory and an in-memory map are PackStores; a friend holding copies of ours is a read-only one.
import { CorruptionError } from '../util/errors.js';

export interface PackInfo {
  id: string;
  sizeBytes: number;
}

/** Reading packs, all a read-only store (a friend's copies of ours, mesh/friend-pack-store.ts) offers. */
export interface ReadablePackStore {
  /** The whole pack; throws PackMissingError when absent. */
  get(id: string): Promise<Buffer>;
  /** `length` bytes from `offset`; throws PackMissingError / PackTruncatedError. */
  getRange(id: string, offset: number, length: number): Promise<Buffer>;
  /** Size in bytes, or undefined when absent. */
  stat(id: string): Promise<PackInfo | undefined>;
  list(): AsyncIterable<PackInfo>;
}

export interface PackStore extends ReadablePackStore {
  /** Stores a pack durably. Writing an existing ID is a no-op. */
  put(id: string, parts: Uint8Array[]): Promise<void>;
  delete(id: string): Promise<void>;
}

/** How many packs `store` lists and their bytes together. */
export async function packUsage(store: ReadablePackStore): Promise<{ packs: number; bytes: number }> {
  const usage = { packs: 0, bytes: 0 };
  for await (const p of store.list()) {
    usage.packs++;
    usage.bytes += p.sizeBytes;
  }
  return usage;
}

export class PackMissingError extends CorruptionError {
  constructor(id: string) {
    super(`pack ${id} is missing`, id, 'E_PACK_MISSING');
    this.name = 'PackMissingError';
  }
}

export class PackTruncatedError extends CorruptionError {
  constructor(id: string, wanted: number, got: number) {
    super(`pack ${id} is truncated: needed ${wanted} bytes at the read position, found ${got}`, id, 'E_PACK_TRUNCATED');
    this.name = 'PackTruncatedError';
  }
}
