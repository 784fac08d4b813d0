// What an owner keeps of a pack whose fetch from a friend was cut (SPEC 13.4, "Resuming a fetch"):
// the bytes that arrived, in order, as `<pack store>/.fetch-partial/<pack ID>.<size>.<friend
// PeerId>`, so that the next fetch of that pack from that friend asks only for the rest (a range
// request). Only the friend that served the start is asked for the rest: a resumed pack that does
// not hash to its ID is then that friend's fault alone. Nothing in a partial file is trusted: the
// resumed pack is hashed whole before it is adopted, and one that does not hash to its ID is
// refused and its partial deleted. Bounded: one partial per pack, at most MAX_FETCH_PARTIALS in
// all (the oldest goes first), each at least MIN_PARTIAL_BYTES, none older than
// PARTIAL_PACK_MAX_AGE_MS.
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MAX_PACK_BYTES } from '../../../protocol/mesh.js';
import type { Clock } from '../util/clock.js';
import { MIN_PARTIAL_BYTES, PARTIAL_PACK_MAX_AGE_MS } from './partial-packs.js';

/** Partial fetches kept in all. */
export const MAX_FETCH_PARTIALS = 4;
/** Bytes read from a partial file at a time when a fetch resumes. */
const PARTIAL_READ_BYTES = 1024 * 1024;

const NAME = /^([0-9a-f]{64})\.(\d{1,9})\.([1-9A-HJ-NP-Za-km-z]{1,128})$/;

/** A partial fetch that can resume: `offset` bytes of a pack of `sizeBytes` kept from `friend`. */
export interface KeptFetch {
  offset: number;
  sizeBytes: number;
}

interface Entry {
  name: string;
  packId: string;
  sizeBytes: number;
  friend: string;
  bytes: number;
  mtimeMs: number;
}

export class FetchPartials {
  readonly dir: string;
  private readonly clock: Clock;

  constructor(packStoreDir: string, clock: Clock) {
    this.dir = join(packStoreDir, '.fetch-partial');
    this.clock = clock;
  }

  private fileName(packId: string, sizeBytes: number, friend: string): string {
    return `${packId}.${sizeBytes}.${friend}`;
  }

  /** What was kept of `packId` from `friend`, when a fetch of it can resume (at least MIN_PARTIAL_BYTES, fewer than the pack, not too old). */
  async find(friend: string, packId: string): Promise<KeptFetch | undefined> {
    const e = (await this.entries()).find((x) => x.packId === packId && x.friend === friend);
    if (!e) return undefined;
    if (e.bytes < MIN_PARTIAL_BYTES || e.bytes >= e.sizeBytes || this.tooOld(e)) {
      await rm(join(this.dir, e.name), { force: true });
      return undefined;
    }
    return { offset: e.bytes, sizeBytes: e.sizeBytes };
  }

  /** Feeds the first `kept.offset` bytes kept of `packId` from `friend` to `write`, a frame at a time. */
  async replay(friend: string, packId: string, kept: KeptFetch, write: (parts: Uint8Array[], n: number) => Promise<void>): Promise<void> {
    const fh = await open(join(this.dir, this.fileName(packId, kept.sizeBytes, friend)), 'r');
    try {
      for (let at = 0; at < kept.offset;) {
        const buf = Buffer.allocUnsafe(Math.min(PARTIAL_READ_BYTES, kept.offset - at));
        const { bytesRead } = await fh.read(buf, 0, buf.length, at);
        if (bytesRead === 0) throw new Error(`partial fetch of pack ${packId} is shorter than the ${kept.offset} bytes it had`);
        await write([buf.subarray(0, bytesRead)], bytesRead);
        at += bytesRead;
      }
    } finally {
      await fh.close();
    }
  }

  /**
   * Keeps `file` (the first bytes of `packId`, `sizeBytes` in all, received in order from `friend`)
   * as the pack's partial, replacing any other; drops the oldest past the cap and the too old.
   */
  async keep(friend: string, packId: string, sizeBytes: number, file: string): Promise<void> {
    const size = (await stat(file).catch(() => null))?.size ?? 0;
    if (size < MIN_PARTIAL_BYTES || size >= sizeBytes || sizeBytes > MAX_PACK_BYTES || !NAME.test(this.fileName(packId, sizeBytes, friend))) {
      await rm(file, { force: true });
      return;
    }
    await this.drop(packId);
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await rename(file, join(this.dir, this.fileName(packId, sizeBytes, friend)));
    const kept = await this.entries();
    const fresh = kept.filter((e) => !this.tooOld(e));
    const gone = [...kept.filter((e) => this.tooOld(e)), ...fresh.slice(0, Math.max(0, fresh.length - MAX_FETCH_PARTIALS))];
    for (const e of gone) await rm(join(this.dir, e.name), { force: true });
  }

  /** Every partial of `packId` goes (it arrived whole, or its resumed bytes were refused). */
  async drop(packId: string): Promise<void> {
    for (const e of await this.entries()) if (e.packId === packId) await rm(join(this.dir, e.name), { force: true });
  }

  private tooOld(e: Entry): boolean {
    return this.clock.now() - e.mtimeMs > PARTIAL_PACK_MAX_AGE_MS;
  }

  /** The partial files, oldest first; a file of any other name is deleted. */
  private async entries(): Promise<Entry[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const out: Entry[] = [];
    for (const name of names) {
      const m = NAME.exec(name);
      const st = await stat(join(this.dir, name)).catch(() => null);
      if (!st) continue;
      if (!m || !st.isFile()) {
        await rm(join(this.dir, name), { recursive: true, force: true });
        continue;
      }
      out.push({ name, packId: m[1] as string, sizeBytes: Number(m[2]), friend: m[3] as string, bytes: st.size, mtimeMs: st.mtimeMs });
    }
    return out.sort((a, b) => a.mtimeMs - b.mtimeMs || a.name.localeCompare(b.name));
  }
}
