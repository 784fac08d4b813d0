// The repository write lock: one operation that writes the repository at a time (backup, prune,
// check, forget). It also draws the line between them for the packer: when an operation fails, the
// blobs it left unwritten are abandoned, so the next operation starts clean instead of inheriting a
// full disk's error (or blobs it would wrongly believe stored).
import { Semaphore } from '../util/semaphore.js';

export interface Abandonable {
  /** A write failed and has not been abandoned yet. */
  readonly writeFailed: boolean;
  /** Drops what an unfinished operation left (open packs, blobs on their way, a write failure). */
  abandonWrites(): Promise<void>;
}

export class RepoWriteLock extends Semaphore {
  private readonly repo: Abandonable;

  constructor(repo: Abandonable) {
    super(1);
    this.repo = repo;
  }

  override async with<T>(n: number, fn: () => Promise<T>): Promise<T> {
    return super.with(n, async () => {
      // a failure from outside any operation (a straggler of the last one): not this one's to carry
      if (this.repo.writeFailed) await this.repo.abandonWrites();
      try {
        return await fn();
      } catch (err) {
        await this.repo.abandonWrites();
        throw err;
      }
    });
  }
}
