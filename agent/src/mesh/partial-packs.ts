// What a friend keeps of a pack whose push was cut (SPEC 13.4, "Resuming a push"): the bytes it
// received, in order, as `hosted/.partial/<owner PeerId>/<pack ID>`, so that the owner's next push
// of that pack (`resume: true`) sends only the rest. Nothing in a partial file is trusted: a
// resumed pack is hashed whole before it is stored, and one that does not hash to its ID is
// refused and its partial deleted. Bounded: at most MAX_PARTIAL_PACKS_PER_OWNER per owner (the
// oldest goes first), each at least MIN_PARTIAL_BYTES, none older than PARTIAL_PACK_MAX_AGE_MS.
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../util/clock.js';

/** Partial packs kept per owner. */
export const MAX_PARTIAL_PACKS_PER_OWNER = 2;
/** A cut push keeps its bytes only when at least this many arrived. */
export const MIN_PARTIAL_BYTES = 1024 * 1024;
/** A partial pack older than this is not resumed, and is deleted when seen. */
export const PARTIAL_PACK_MAX_AGE_MS = 24 * 3_600_000;
/** Bytes read from a partial file at a time when a push resumes. */
const PARTIAL_READ_BYTES = 1024 * 1024;

export class PartialPacks {
  private readonly dir: string;
  private readonly clock: Clock;

  constructor(hostedDir: string, clock: Clock) {
    this.dir = join(hostedDir, '.partial');
    this.clock = clock;
  }

  private path(owner: string, packId: string): string {
    return join(this.dir, owner, packId);
  }

  /** Bytes kept of `packId` for `owner`, when a push of it can resume (fewer than `size`, not too old); else 0. */
  async length(owner: string, packId: string, size: number): Promise<number> {
    const st = await stat(this.path(owner, packId)).catch(() => null);
    if (!st) return 0;
    if (st.size >= size || st.size < MIN_PARTIAL_BYTES || this.clock.now() - st.mtimeMs > PARTIAL_PACK_MAX_AGE_MS) {
      await this.drop(owner, packId);
      return 0;
    }
    return st.size;
  }

  /** Feeds the first `length` bytes kept of `packId` to `write`, a frame at a time. */
  async replay(owner: string, packId: string, length: number, write: (parts: Uint8Array[], n: number) => Promise<void>): Promise<void> {
    const fh = await open(this.path(owner, packId), 'r');
    try {
      for (let at = 0; at < length;) {
        const buf = Buffer.allocUnsafe(Math.min(PARTIAL_READ_BYTES, length - at));
        const { bytesRead } = await fh.read(buf, 0, buf.length, at);
        if (bytesRead === 0) throw new Error(`partial pack ${packId} is shorter than the ${length} bytes it had`);
        await write([buf.subarray(0, bytesRead)], bytesRead);
        at += bytesRead;
      }
    } finally {
      await fh.close();
    }
  }

  /** Keeps `file` (bytes of `packId` received in order) as its partial, replacing an older one; drops the oldest past the cap. */
  async keep(owner: string, packId: string, file: string): Promise<void> {
    const size = (await stat(file).catch(() => null))?.size ?? 0;
    if (size < MIN_PARTIAL_BYTES) {
      await rm(file, { force: true });
      return;
    }
    await mkdir(join(this.dir, owner), { recursive: true, mode: 0o700 });
    await rename(file, this.path(owner, packId));
    const kept = await this.list(owner);
    for (const old of kept.slice(0, Math.max(0, kept.length - MAX_PARTIAL_PACKS_PER_OWNER))) await this.drop(owner, old.name);
  }

  async drop(owner: string, packId: string): Promise<void> {
    await rm(this.path(owner, packId), { force: true });
  }

  /** Every partial pack of `owner` goes (a friend removed). */
  async dropOwner(owner: string): Promise<void> {
    await rm(join(this.dir, owner), { recursive: true, force: true });
  }

  /** The owner's partial packs, oldest first. */
  private async list(owner: string): Promise<Array<{ name: string; mtimeMs: number }>> {
    const names = await readdir(join(this.dir, owner)).catch(() => [] as string[]);
    const out: Array<{ name: string; mtimeMs: number }> = [];
    for (const name of names) {
      const st = await stat(join(this.dir, owner, name)).catch(() => null);
      if (st) out.push({ name, mtimeMs: st.mtimeMs });
    }
    return out.sort((a, b) => a.mtimeMs - b.mtimeMs || a.name.localeCompare(b.name));
  }
}
