// Packs we hold for friends: $CAIRN_HOME/hosted/<friend PeerId>/XX/<pack ID>, opaque to us.
// Space is reserved before a pack is accepted: the friend's grant (each pack charged at least
// MIN_PACK_CHARGE_BYTES), a cap on its packs, and floors of free disk bytes and free inodes all
// bound it, counting every upload still in flight from every friend, so friends together can
// never make us store more than we granted or fill our disk.
import { mkdir, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalPackStore } from '../store/local-pack-store.js';
import { Semaphore } from '../util/semaphore.js';
import { MAX_HOSTED_PACKS_PER_OWNER, packChargeBytes, WireError } from '../../../protocol/mesh.js';
import { RefusedError, type Frames } from './framing.js';
import type { HostedPacks } from './hosted-ledger.js';
import { PackHashMismatchError, receivePack } from './pack-receive.js';
import { PartialPacks } from './partial-packs.js';
import { systemClock, type Clock } from '../util/clock.js';

/** Free inodes kept on the disk holding friends' packs (where the file system counts them). */
export const MIN_FREE_INODES = 10_000;

/** What the disk holding friends' packs has left; `freeInodes` is null where the file system does not count inodes (btrfs). */
export interface DiskSpace {
  freeBytes: number;
  freeInodes: number | null;
}

export async function diskSpace(dir: string): Promise<DiskSpace> {
  const fs = await statfs(dir);
  return { freeBytes: fs.bavail * fs.bsize, freeInodes: fs.files > 0 ? fs.ffree : null };
}

export interface HostedLimits {
  /** Keep at least this many bytes free. */
  floorBytes: number;
  minFreeInodes?: number;
  maxPacksPerOwner?: number;
  /** How free space is read (tests inject a small disk). */
  space?: (dir: string) => Promise<DiskSpace>;
  /** For the age of partial packs (partial-packs.ts). */
  clock?: Clock;
}

export class HostedStore {
  readonly dir: string;
  private readonly ledger: HostedPacks;
  private readonly floorBytes: number;
  private readonly minFreeInodes: number;
  private readonly maxPacks: number;
  private readonly space: (dir: string) => Promise<DiskSpace>;
  /** Uploads in flight, per friend: bytes charged and packs. */
  private readonly reserved = new Map<string, { bytes: number; packs: number }>();
  /** The same, over every friend: all of it counts against the disk's free bytes and inodes. */
  private reservedBytes = 0;
  private reservedPacks = 0;
  /** One store per friend, opened once: open() sweeps temp files, so a second open while a pack is arriving would delete it. */
  private readonly stores = new Map<string, Promise<LocalPackStore>>();
  private readonly reserving = new Semaphore(1);
  /** What cut pushes left, for the next push of the same pack to resume. */
  readonly partials: PartialPacks;

  constructor(dir: string, ledger: HostedPacks, limits: HostedLimits) {
    this.dir = dir;
    this.partials = new PartialPacks(dir, limits.clock ?? systemClock);
    this.ledger = ledger;
    this.floorBytes = limits.floorBytes;
    this.minFreeInodes = limits.minFreeInodes ?? MIN_FREE_INODES;
    this.maxPacks = limits.maxPacksPerOwner ?? MAX_HOSTED_PACKS_PER_OWNER;
    this.space = limits.space ?? diskSpace;
  }

  async storeFor(peerId: string): Promise<LocalPackStore> {
    const known = this.stores.get(peerId);
    if (known) return known;
    const store = new LocalPackStore(join(this.dir, peerId));
    const opened = store.open().then(() => store);
    this.stores.set(peerId, opened);
    // a failed open is tried again by the next caller
    opened.catch(() => this.stores.get(peerId) === opened && this.stores.delete(peerId));
    return opened;
  }

  /**
   * Reserves room for a pack of `size` bytes or refuses with E_QUOTA (grant or pack cap) or
   * E_DISK_FLOOR (free bytes or inodes). Returns a release function, to be called once the pack
   * is stored (then its record counts) or has failed.
   */
  async reserve(peerId: string, grantBytes: number, size: number): Promise<() => void> {
    // one reservation at a time: concurrent uploads must not all pass the same check
    return this.reserving.with(1, () => this.reserveNow(peerId, grantBytes, size));
  }

  private async reserveNow(peerId: string, grantBytes: number, size: number): Promise<() => void> {
    const charge = packChargeBytes(size);
    const held = await this.ledger.usage(peerId);
    const mine = this.reserved.get(peerId) ?? { bytes: 0, packs: 0 };
    const used = held.chargedBytes + mine.bytes;
    if (used + charge > grantBytes) {
      throw new RefusedError(
        WireError.quota,
        `over quota: storing a pack charged ${charge} bytes would make ${used + charge} of the ${grantBytes} bytes granted`,
      );
    }
    if (held.packs + mine.packs + 1 > this.maxPacks) {
      throw new RefusedError(WireError.quota, `over quota: ${this.maxPacks} packs is the most kept here for one friend`);
    }
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const space = await this.space(this.dir);
    // what uploads in flight (from every friend) will still write is not yet in the free count
    const free = space.freeBytes - this.reservedBytes;
    if (free - charge < this.floorBytes) {
      throw new RefusedError(WireError.diskFloor, `disk nearly full: ${free} bytes free once uploads in flight land, keeping at least ${this.floorBytes} free`);
    }
    if (space.freeInodes !== null && space.freeInodes - this.reservedPacks - 1 < this.minFreeInodes) {
      throw new RefusedError(
        WireError.diskFloor,
        `disk nearly out of inodes: ${space.freeInodes - this.reservedPacks} free once uploads in flight land, keeping at least ${this.minFreeInodes}`,
      );
    }
    this.reserved.set(peerId, { bytes: mine.bytes + charge, packs: mine.packs + 1 });
    this.reservedBytes += charge;
    this.reservedPacks += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const r = this.reserved.get(peerId) ?? { bytes: charge, packs: 1 };
      if (r.packs <= 1) this.reserved.delete(peerId);
      else this.reserved.set(peerId, { bytes: r.bytes - charge, packs: r.packs - 1 });
      this.reservedBytes -= charge;
      this.reservedPacks -= 1;
    };
  }

  /**
   * Writes a pack from the stream, verifying that its bytes hash to its name and have the announced
   * size; only then is it moved into place and recorded.
   */
  async receive(peerId: string, packId: string, size: number, f: Frames, resume?: { offset: number }): Promise<void> {
    const resumable = resume
      ? {
          offset: resume.offset,
          replay: (write: (parts: Uint8Array[], length: number) => Promise<void>) => this.partials.replay(peerId, packId, resume.offset, write),
          keep: (tmp: string) => this.partials.keep(peerId, packId, tmp),
        }
      : undefined;
    try {
      await receivePack(await this.storeFor(peerId), packId, size, f, { dropCache: true, ...(resumable ? { resume: resumable } : {}) });
    } catch (err) {
      if (err instanceof PackHashMismatchError) {
        await this.partials.drop(peerId, packId);
        throw new RefusedError(WireError.badPack, err.message);
      }
      throw err;
    }
    await this.partials.drop(peerId, packId);
    await this.ledger.add(peerId, packId, size);
  }

  /** How many bytes of `packId` a cut push left here (0: none, or not usable): a push with `resume` sends only the rest. */
  resumeOffset(peerId: string, packId: string, size: number): Promise<number> {
    return this.partials.length(peerId, packId, size);
  }

  async remove(peerId: string, packId: string): Promise<void> {
    await this.partials.drop(peerId, packId);
    await (await this.storeFor(peerId)).delete(packId);
    await this.ledger.remove(peerId, packId);
  }
}
