// Restore drills (SPEC 13.11): a random sample of each source's newest snapshot is restored into a
// scratch directory from friends' copies alone, every byte verified, the scratch copy deleted.
// Structurally local-free: a drill is given the index and the keys (DrillRepo) and a CopySource
// that reads byte ranges of our packs at friends; it never holds the repository's pack stores, so
// there is no code path by which a local pack could stand in for a friend's copy. Every sampled
// blob is read from every friend that holds its pack, so each friend's copy is proved (or caught)
// by name and pack; trees are read from the first friend that serves them intact.
import { randomBytes, randomInt } from 'node:crypto';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DrillFriend, DrillResult, DrillSource } from '../../../protocol/api.js';
import type { Snapshot } from '../../../protocol/snapshot.js';
import { BlobType } from '../repo/blob.js';
import type { Repository } from '../repo/repository.js';
import { decodeTree } from '../repo/trees.js';
import { CorruptionError, errorMessage } from '../util/errors.js';
import type { DrilledCopy } from './drill-ledger.js';
import { peerIdFromString } from '@libp2p/peer-id';
import type { MeshContext } from './context.js';
import { RefusedError } from './framing.js';
import { getPackRange } from './pack-get.js';

const MIB = 1024 * 1024;
/** The sample is at least this share of a source's bytes ... */
export const DRILL_SHARE = 0.01;
/** ... or this many bytes, whichever is smaller. */
export const DRILL_MAX_SAMPLE_BYTES = 256 * MIB;
/** Files up to this size are restored whole; larger ones in a part (consecutive chunks from a random one). */
export const DRILL_SMALL_FILE_MAX_BYTES = 4 * MIB;
/** A part of a large file is at most this long (whole chunks; at least one). */
export const DRILL_FILE_PART_MAX_BYTES = 16 * MIB;
/** Candidates kept of each kind while the tree is walked (reservoir sampling: memory stays bounded). */
export const DRILL_CANDIDATES_PER_KIND = 4096;
/** Most blobs one source's sample reads (a tree of tiny files reaches this before the byte target). */
export const DRILL_MAX_SAMPLE_BLOBS = 20_000;

/** What a drill may use of the repository: the index and the keys, never a pack store. */
export type DrillRepo = Pick<Repository, 'index' | 'openBlob' | 'blobIdOf'>;

/** Our packs at friends: who holds each, and their bytes as the friend serves them. */
export interface CopySource {
  holders(packId: string): Promise<Array<{ peerId: string; name: string }>>;
  readRange(peerId: string, packId: string, offset: number, length: number): Promise<Buffer>;
}

export interface DrillTarget {
  source: string;
  snapshotId: string;
  snapshot: Snapshot;
}

interface FileCandidate {
  path: string;
  size: number;
  content: string[];
}

/** One piece of the sample: a whole file, or chunks [from, to) of one. */
interface Piece {
  file: FileCandidate;
  from: number;
  to: number;
  whole: boolean;
}

/** A source could not be restored from friends: no holder served a blob intact. */
export class DrillUnrestorableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DrillUnrestorableError';
  }
}

/** The sample's target for a source of `totalBytes`: DRILL_SHARE of it or DRILL_MAX_SAMPLE_BYTES, whichever is smaller. */
export function drillTargetBytes(totalBytes: number): number {
  return Math.min(Math.ceil(totalBytes * DRILL_SHARE), DRILL_MAX_SAMPLE_BYTES);
}

/** Keeps a uniform random sample of at most `max` items of a stream (Algorithm R). */
class Reservoir<T> {
  readonly items: T[] = [];
  private seen = 0;
  constructor(private readonly max: number) {}
  add(item: T): void {
    this.seen += 1;
    if (this.items.length < this.max) this.items.push(item);
    else {
      const j = randomInt(this.seen);
      if (j < this.max) this.items[j] = item;
    }
  }
}

function shuffle<T>(a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [a[i], a[j]] = [a[j] as T, a[i] as T];
  }
  return a;
}

export class Drill {
  private readonly repo: DrillRepo;
  private readonly copies: CopySource;
  private readonly scratchRoot: string;
  /** friend PeerId -> pack ID -> verdict of this drill (a failure sticks). */
  readonly verdicts = new Map<string, Map<string, DrilledCopy>>();
  private readonly names = new Map<string, string>();
  private readonly bytesRead = new Map<string, number>();
  /** Friends a read could not reach: no verdict on their copies, but said in the job's log. */
  private readonly unreachable = new Set<string>();
  private readonly now: () => number;

  /** `scratchRoot` is deleted before and after the drill (whatever a killed drill left, too). */
  constructor(repo: DrillRepo, copies: CopySource, scratchRoot: string, now: () => number) {
    this.repo = repo;
    this.copies = copies;
    this.scratchRoot = scratchRoot;
    this.now = now;
  }

  /** Drills each target; the scratch directory is gone when this returns or throws. */
  async run(targets: DrillTarget[], jobId: string, log: (line: string) => void = () => undefined): Promise<DrillResult> {
    const started = this.now();
    await rm(this.scratchRoot, { recursive: true, force: true });
    const sources: DrillSource[] = [];
    try {
      for (const t of targets) {
        const s = await this.drillSource(t);
        log(
          `${t.source}: ${s.ok ? 'restored' : 'FAILED'} ${s.wholeFiles} whole files and ${s.fileParts} parts of large ones, ${s.sampledBytes} of ${s.totalBytes} bytes from friends${s.error ? `: ${s.error}` : ''}`,
        );
        sources.push(s);
      }
    } finally {
      await rm(this.scratchRoot, { recursive: true, force: true });
    }
    if (this.unreachable.size > 0) log(`could not reach ${[...this.unreachable].join(', ')} for some reads: their copies there were not judged`);
    const friends: DrillFriend[] = [...this.verdicts].map(([peerId, packs]) => ({
      name: this.names.get(peerId) ?? peerId,
      peerId,
      packsProved: [...packs.values()].filter((v) => v.ok).length,
      bytesRead: this.bytesRead.get(peerId) ?? 0,
      failed: [...packs].filter(([, v]) => !v.ok).map(([packId, v]) => ({ packId, reason: v.reason ?? 'failed' })),
    }));
    const problems = [
      ...friends.flatMap((f) => f.failed.map((x) => `${f.name}: pack ${x.packId}: ${x.reason}`)),
      ...sources.filter((s) => s.error !== null).map((s) => `${s.source}: ${s.error ?? ''}`),
    ];
    return {
      jobId,
      time: new Date(started).toISOString(),
      ok: problems.length === 0 && sources.every((s) => s.ok),
      sources,
      friends,
      problems,
    };
  }

  private async drillSource(t: DrillTarget): Promise<DrillSource> {
    const out: DrillSource = {
      source: t.source,
      snapshot: t.snapshotId,
      totalBytes: 0,
      targetBytes: 0,
      sampledBytes: 0,
      wholeFiles: 0,
      fileParts: 0,
      ok: false,
      error: null,
    };
    try {
      const small = new Reservoir<FileCandidate>(DRILL_CANDIDATES_PER_KIND);
      const large = new Reservoir<FileCandidate>(DRILL_CANDIDATES_PER_KIND);
      // the walk: every tree through friends (bounded by the snapshot itself)
      const stack: Array<{ id: string; path: string }> = [{ id: t.snapshot.tree, path: '' }];
      while (stack.length > 0) {
        const { id, path } = stack.pop() as { id: string; path: string };
        const tree = decodeTree(id, await this.readBlob(id, BlobType.tree, false));
        for (const n of tree.nodes) {
          const p = `${path}/${n.name}`;
          if (n.subtree) stack.push({ id: n.subtree, path: p });
          if (n.type !== 'file' || !n.content || n.content.length === 0 || n.size <= 0) continue;
          out.totalBytes += n.size;
          (n.size <= DRILL_SMALL_FILE_MAX_BYTES ? small : large).add({ path: p, size: n.size, content: n.content });
        }
      }
      out.targetBytes = drillTargetBytes(out.totalBytes);
      const pieces = this.pick(shuffle(small.items), shuffle(large.items), out.targetBytes);
      const dir = join(this.scratchRoot, randomBytes(8).toString('hex'));
      await mkdir(dir, { recursive: true, mode: 0o700 });
      let i = 0;
      for (const piece of pieces) {
        out.sampledBytes += await this.restorePiece(piece, join(dir, String(i++)));
        if (piece.whole) out.wholeFiles += 1;
        else out.fileParts += 1;
      }
      out.ok = true;
    } catch (err) {
      if (!(err instanceof DrillUnrestorableError) && !(err instanceof CorruptionError)) throw err;
      out.error = err.message;
    }
    return out;
  }

  /** Whole small files and parts of large ones, alternately, until the target is met; at least one of each kind there is. */
  private pick(small: FileCandidate[], large: FileCandidate[], targetBytes: number): Piece[] {
    const pieces: Piece[] = [];
    let bytes = 0;
    let blobs = 0;
    const size = (f: FileCandidate, from: number, to: number) => {
      let n = 0;
      for (let k = from; k < to; k++) n += this.repo.index.get(f.content[k] as string)?.rawLength ?? 0;
      return n;
    };
    while ((small.length > 0 || large.length > 0) && (pieces.length < 2 || bytes < targetBytes) && blobs < DRILL_MAX_SAMPLE_BLOBS) {
      const s = small.pop();
      if (s) {
        pieces.push({ file: s, from: 0, to: s.content.length, whole: true });
        bytes += s.size;
        blobs += s.content.length;
      }
      const l = large.pop();
      if (l) {
        const from = randomInt(l.content.length);
        let to = from + 1;
        let partBytes = size(l, from, to);
        while (to < l.content.length && partBytes < Math.min(DRILL_FILE_PART_MAX_BYTES, targetBytes - bytes)) {
          partBytes += size(l, to, to + 1);
          to += 1;
        }
        pieces.push({ file: l, from, to, whole: from === 0 && to === l.content.length });
        bytes += partBytes;
        blobs += to - from;
      }
    }
    return pieces;
  }

  /** Restores a piece into `file` from friends, then reads the file back and checks every chunk's ID. */
  private async restorePiece(piece: Piece, file: string): Promise<number> {
    const ids = piece.file.content.slice(piece.from, piece.to);
    const fh = await open(file, 'wx', 0o600);
    let written = 0;
    try {
      for (const id of ids) {
        const data = await this.readBlob(id, BlobType.data, true);
        await fh.write(data);
        written += data.length;
      }
    } finally {
      await fh.close();
    }
    const back = await readFile(file);
    let off = 0;
    for (const id of ids) {
      const len = this.repo.index.get(id)?.rawLength ?? 0;
      if (this.repo.blobIdOf(back.subarray(off, off + len)) !== id)
        throw new CorruptionError(`the restored copy of ${piece.file.path} does not match chunk ${id} at offset ${off}`);
      off += len;
    }
    if (off !== back.length) throw new CorruptionError(`the restored copy of ${piece.file.path} has ${back.length} bytes, not ${off}`);
    await rm(file, { force: true });
    return written;
  }

  /**
   * One blob's verified plaintext, from friends only. With `everyHolder`, every friend holding its
   * pack is read and judged (the sample proves each copy); else the first intact copy is enough.
   */
  private async readBlob(id: string, type: BlobType, everyHolder: boolean): Promise<Buffer> {
    const entry = this.repo.index.get(id);
    if (!entry) throw new CorruptionError(`blob ${id} of the snapshot is not in the index`);
    const holders = shuffle(await this.copies.holders(entry.packId));
    if (holders.length === 0) throw new DrillUnrestorableError(`no friend holds pack ${entry.packId} (blob ${id})`);
    let good: Buffer | undefined;
    const unreachable: string[] = [];
    for (const h of holders) {
      if (good && !everyHolder) break;
      this.names.set(h.peerId, h.name);
      let sealed: Buffer;
      try {
        sealed = await this.copies.readRange(h.peerId, entry.packId, entry.offset, entry.sealedLength);
      } catch (err) {
        // a refusal ("not held here") is a lost copy; a friend we cannot reach is not a verdict on its copy
        if (err instanceof RefusedError) this.judge(h.peerId, entry.packId, `refused the drill's read: ${errorMessage(err)}`);
        else {
          unreachable.push(`${h.name}: ${errorMessage(err)}`);
          this.unreachable.add(h.name);
        }
        continue;
      }
      this.bytesRead.set(h.peerId, (this.bytesRead.get(h.peerId) ?? 0) + sealed.length);
      let data: Buffer;
      try {
        data = this.repo.openBlob(id, type, entry, sealed);
      } catch (err) {
        this.judge(h.peerId, entry.packId, `served damaged bytes: ${errorMessage(err)}`);
        continue;
      }
      this.judge(h.peerId, entry.packId, null);
      good ??= data;
    }
    if (!good)
      throw new DrillUnrestorableError(
        `no friend served blob ${id} of pack ${entry.packId} intact${unreachable.length ? ` (unreachable: ${unreachable.join('; ')})` : ''}`,
      );
    return good;
  }

  private judge(peerId: string, packId: string, failure: string | null): void {
    let m = this.verdicts.get(peerId);
    if (!m) this.verdicts.set(peerId, (m = new Map()));
    if (m.get(packId)?.ok === false) return; // a failure sticks for this drill
    m.set(packId, { atMs: this.now(), ok: failure === null, reason: failure });
  }
}

/** Our copies at friends as the copies ledger counts them, read with pack-get ranges (the friend's bytes, unverified). */
export async function friendCopies(ctx: MeshContext): Promise<CopySource> {
  const names = new Map((await ctx.friends.list()).map((f) => [f.peerId, f.name]));
  return {
    holders: async (packId) =>
      (await ctx.copies.holders(packId)).flatMap((peerId) => {
        const name = names.get(peerId);
        return name === undefined ? [] : [{ peerId, name }];
      }),
    readRange: (peerId, packId, offset, length) => getPackRange(ctx, peerIdFromString(peerId), packId, { offset, length }),
  };
}
