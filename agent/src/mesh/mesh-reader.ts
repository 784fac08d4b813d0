// Reading packs when friends hold copies: the local store first; a pack missing locally (or found
// damaged) is fetched from a friend that holds it into the local store, verified on the way
// (SHA-256 = pack ID). A friend serving damaged or no bytes is reported and the next holder is tried.
// Who needed a fetch is known by its async context: a FetchTally counts the packs that reached the
// work run under it (a restore), so two restores at once keep their own counts.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { PackReader } from '../repo/pack-reader.js';
import type { LocalPackStore } from '../store/local-pack-store.js';
import { PackMissingError } from '../store/pack-store.js';
import { CorruptionError, errorMessage } from '../util/errors.js';
import { DiskFullError, DiskWriteError } from '../util/write-errors.js';
import { RefusedError } from './framing.js';
import { PackHashMismatchError } from './pack-receive.js';

/** Extra tries of one holder after a failure in transit (not after damaged bytes or a refusal). */
const TRANSIT_RETRIES = 1;

export interface PackFetcher {
  /** Friends to try for a pack, best first. */
  holdersOf(packId: string): Promise<Array<{ peerId: string; name: string }>>;
  /** Fetches the whole pack into `into`, where it lands only verified; PackHashMismatchError when the friend's copy is damaged. */
  fetch(peerId: string, packId: string, into: LocalPackStore): Promise<void>;
  report(peerId: string, problem: string, packId: string): Promise<void>;
}

const tallies = new AsyncLocalStorage<FetchTally>();

/** Packs fetched from friends for the work run under this tally, per friend name; each pack counted once. */
export class FetchTally {
  readonly fetched = new Map<string, number>();
  private readonly seen = new Set<string>();

  /** Runs `fn` under this tally: every pack its reads and prefetches get from a friend (or join in flight) is counted. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    return tallies.run(this, fn);
  }

  arrived(packId: string, friend: string): void {
    if (this.seen.has(packId)) return;
    this.seen.add(packId);
    this.fetched.set(friend, (this.fetched.get(friend) ?? 0) + 1);
  }
}

export class MeshPackReader implements PackReader {
  private readonly local: LocalPackStore;
  private readonly fetcher: PackFetcher;
  /** Fetches under way, by pack ID: each resolves with the name of the friend that served it. */
  private readonly inFlight = new Map<string, Promise<string>>();

  constructor(local: LocalPackStore, fetcher: PackFetcher) {
    this.local = local;
    this.fetcher = fetcher;
  }

  /** Makes a verified copy of the pack local, from the first friend that has an intact one. */
  async fetchFromFriends(packId: string, skip: Set<string> = new Set()): Promise<void> {
    let p = this.inFlight.get(packId);
    if (!p) {
      p = this.doFetch(packId, skip).finally(() => this.inFlight.delete(packId));
      this.inFlight.set(packId, p);
    }
    const friend = await p;
    tallies.getStore()?.arrived(packId, friend);
  }

  private async doFetch(packId: string, skip: Set<string>): Promise<string> {
    const tried: string[] = [];
    for (const { peerId, name } of await this.fetcher.holdersOf(packId)) {
      if (skip.has(peerId)) continue;
      tried.push(name);
      if (await this.fetchOnce(peerId, packId)) return name;
    }
    throw new CorruptionError(
      `pack ${packId} is missing locally and no friend has an intact copy${tried.length ? ` (tried ${tried.join(', ')})` : ' (no friend holds it)'}`,
      packId,
    );
  }

  /**
   * One holder's copy, with one more try when the first failed in transit (a connection that
   * closed as the stream opened: a relayed connection replaced meanwhile), never after damaged
   * bytes or a refusal. A failure is reported against the friend; false then. A failure to write
   * the pack to our own disk is not the friend's: it ends the fetch at once (every holder would
   * meet the same disk), and no friend is reported or loses its recorded copy.
   */
  private async fetchOnce(peerId: string, packId: string): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.fetcher.fetch(peerId, packId, this.local);
        return true;
      } catch (err) {
        if (err instanceof DiskFullError || err instanceof DiskWriteError) throw err;
        const damaged = err instanceof PackHashMismatchError;
        if (!damaged && !(err instanceof RefusedError) && attempt <= TRANSIT_RETRIES) continue;
        const problem = damaged ? `served a damaged copy of pack ${packId} (SHA-256 mismatch)` : `could not serve pack ${packId}: ${errorMessage(err)}`;
        await this.fetcher.report(peerId, problem, packId);
        return false;
      }
    }
  }

  /**
   * Fetches many packs at once, in order, spreading them over the friends that hold them; returns
   * what could not be fetched. Readers may run meanwhile: a pack they fetched first is skipped.
   * Once `signal` aborts, no further pack is started.
   */
  async prefetch(packIds: string[], concurrency: number, signal?: AbortSignal): Promise<string[]> {
    const errors: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < packIds.length && !signal?.aborted) {
        const id = packIds[next++] as string;
        if (!this.inFlight.has(id) && (await this.local.stat(id))) continue; // local, or a reader fetched it
        await this.fetchFromFriends(id).catch((err: unknown) => errors.push(errorMessage(err)));
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
    return errors;
  }

  async getRange(id: string, offset: number, length: number): Promise<Buffer> {
    try {
      return await this.local.getRange(id, offset, length);
    } catch (err) {
      if (!(err instanceof CorruptionError)) throw err;
      await this.fetchFromFriends(id);
      return this.local.getRange(id, offset, length);
    }
  }

  async get(id: string): Promise<Buffer> {
    try {
      return await this.local.get(id);
    } catch (err) {
      if (!(err instanceof PackMissingError)) throw err;
      await this.fetchFromFriends(id);
      return this.local.get(id);
    }
  }

  /** A local copy failed verification: replace it from a friend. */
  async refetch(id: string): Promise<void> {
    await this.fetchFromFriends(id);
  }
}
