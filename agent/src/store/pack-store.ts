// Where packs live. A pack is an opaque byte string named by the SHA-256 of its bytes; the local
// directory, an in-memory map and (later) a friend are all PackStores.
import { CorruptionError } from '../util/errors.js';

export interface PackInfo {
  id: string;
  sizeBytes: number;
}

export interface PackStore {
  /** Stores a pack durably. Writing an existing ID is a no-op. */
  put(id: string, parts: Uint8Array[]): Promise<void>;
  /** The whole pack; throws PackMissingError when absent. */
  get(id: string): Promise<Buffer>;
  /** `length` bytes from `offset`; throws PackMissingError / PackTruncatedError. */
  getRange(id: string, offset: number, length: number): Promise<Buffer>;
  /** Size in bytes, or undefined when absent. */
  stat(id: string): Promise<PackInfo | undefined>;
  list(): AsyncIterable<PackInfo>;
  delete(id: string): Promise<void>;
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
