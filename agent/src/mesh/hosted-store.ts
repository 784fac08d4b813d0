// Packs we hold for friends: $CAIRN_HOME/hosted/<friend PeerId>/XX/<pack ID>, opaque to us.
// Space is reserved before a pack is accepted: the friend's grant and a free-disk floor both bound
// it, so a friend can never make us store more than we granted or fill our disk.
import { mkdir, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalPackStore } from '../store/local-pack-store.js';
import { Semaphore } from '../util/semaphore.js';
import { WireError } from '../../../protocol/mesh.js';
import { RefusedError, type Frames } from './framing.js';
import type { FriendBook } from './friends.js';
import { PackHashMismatchError, receivePack } from './pack-receive.js';

export class HostedStore {
  readonly dir: string;
  private readonly book: FriendBook;
  private readonly floorBytes: number;
  private readonly reserved = new Map<string, number>();
  /** One store per friend, opened once: open() sweeps temp files, so a second open while a pack is arriving would delete it. */
  private readonly stores = new Map<string, Promise<LocalPackStore>>();
  private readonly reserving = new Semaphore(1);

  constructor(dir: string, book: FriendBook, floorBytes: number) {
    this.dir = dir;
    this.book = book;
    this.floorBytes = floorBytes;
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

  /** Reserves room for a pack or refuses with E_QUOTA / E_DISK_FLOOR. Returns a release function. */
  async reserve(peerId: string, grantBytes: number, size: number): Promise<() => void> {
    // one reservation at a time: concurrent uploads must not all pass the same check
    return this.reserving.with(1, () => this.reserveNow(peerId, grantBytes, size));
  }

  private async reserveNow(peerId: string, grantBytes: number, size: number): Promise<() => void> {
    const used = (await this.book.hostedBytes(peerId)) + (this.reserved.get(peerId) ?? 0);
    if (used + size > grantBytes) {
      throw new RefusedError(WireError.quota, `over quota: storing ${size} more bytes would make ${used + size} of the ${grantBytes} bytes granted`);
    }
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const fs = await statfs(this.dir);
    const free = fs.bavail * fs.bsize;
    if (free - size < this.floorBytes) {
      throw new RefusedError(WireError.diskFloor, `disk nearly full: ${free} bytes free, keeping at least ${this.floorBytes} free`);
    }
    this.reserved.set(peerId, (this.reserved.get(peerId) ?? 0) + size);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.reserved.set(peerId, (this.reserved.get(peerId) ?? 0) - size);
    };
  }

  /**
   * Writes a pack from the stream, verifying that its bytes hash to its name and have the announced
   * size; only then is it moved into place and recorded.
   */
  async receive(peerId: string, packId: string, size: number, f: Frames): Promise<void> {
    try {
      await receivePack(await this.storeFor(peerId), packId, size, f, { dropCache: true });
    } catch (err) {
      if (err instanceof PackHashMismatchError) throw new RefusedError(WireError.badPack, err.message);
      throw err;
    }
    await this.book.addHosted(peerId, packId, size);
  }

  async remove(peerId: string, packId: string): Promise<void> {
    await (await this.storeFor(peerId)).delete(packId);
    await this.book.removeHosted(peerId, packId);
  }
}
