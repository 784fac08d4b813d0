// PackStore in memory, for unit tests.
import { PackMissingError, PackTruncatedError, type PackInfo, type PackStore } from './pack-store.js';

export class MemoryPackStore implements PackStore {
  readonly packs = new Map<string, Buffer>();

  async put(id: string, parts: Uint8Array[]): Promise<void> {
    if (!this.packs.has(id)) this.packs.set(id, Buffer.concat(parts));
  }

  async get(id: string): Promise<Buffer> {
    const p = this.packs.get(id);
    if (!p) throw new PackMissingError(id);
    return Buffer.from(p);
  }

  async getRange(id: string, offset: number, length: number): Promise<Buffer> {
    const p = await this.get(id);
    if (offset + length > p.length) throw new PackTruncatedError(id, length, Math.max(0, p.length - offset));
    return p.subarray(offset, offset + length);
  }

  async stat(id: string): Promise<PackInfo | undefined> {
    const p = this.packs.get(id);
    return p ? { id, sizeBytes: p.length } : undefined;
  }

  async *list(): AsyncIterable<PackInfo> {
    for (const [id, p] of [...this.packs].sort(([a], [b]) => a.localeCompare(b))) yield { id, sizeBytes: p.length };
  }

  async delete(id: string): Promise<void> {
    this.packs.delete(id);
  }
}
