// The agent's LevelDB and every sublevel in it, declared once here.
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Level } from 'level';
import { CairnError } from '../util/errors.js';

export type StateDb = Level<string, string>;

function sublevels(db: StateDb) {
  const utf8 = { valueEncoding: 'utf8' } as const;
  return {
    /** blob ID (hex) -> "packId:offset:sealedLength:rawLength:type:flags" (see repo/index.ts) */
    index: db.sublevel<string, string>('index', utf8),
    /** snapshot ID (hex) -> snapshot JSON (protocol/snapshot.ts Snapshot) */
    snapshots: db.sublevel<string, string>('snapshots', utf8),
    /** friend PeerId -> Friendship JSON (mesh/friend-ledger.ts) */
    friends: db.sublevel<string, string>('friends', utf8),
    /** invite ID -> OpenInvite JSON (mesh/friend-ledger.ts): hash of the secret, expiry, quota, attempts */
    invites: db.sublevel<string, string>('invites', utf8),
    /** "<friend PeerId>!<pack ID>" -> size in bytes: packs we hold for friends */
    hosted: db.sublevel<string, string>('hosted', utf8),
    /** "<pack ID>!<friend PeerId>" -> size in bytes: our packs a friend confirmed it stores */
    replicas: db.sublevel<string, string>('replicas', utf8),
    /** friend PeerId -> SignedHead JSON: the newest head each friend gave us to keep */
    heads: db.sublevel<string, string>('heads', utf8),
    /** snapshot ID (hex) -> JSON {pinnedAt: ISO time}: pinned snapshots, never forgotten (snapshot/retention.ts) */
    pins: db.sublevel<string, string>('pins', utf8),
    /** "<friend PeerId>!<pack ID>" -> size in bytes: our packs pruned locally that this friend should delete (sent until accepted) */
    deleteOutbox: db.sublevel<string, string>('deleteOutbox', utf8),
    /** "<friend PeerId>!<pack ID>" -> ms since the epoch: when we last queued a delete request for our pack there (prune or the audit; mesh/orphan-packs.ts asks again only after ORPHAN_REASK_MS), removed once the friend no longer lists it */
    deleteAsked: db.sublevel<string, string>('deleteAsked', utf8),
    /** "<friend PeerId>!<pack ID>" -> JSON {dueMs, seq}: a friend's packs it asked us to delete, removed once the deletion grace has passed */
    deletions: db.sublevel<string, string>('deletions', utf8),
    /** "<friend PeerId>!<pack ID>" -> ms since the epoch: when our pack there last passed a storage challenge (mesh/challenge-ledger.ts) */
    challenged: db.sublevel<string, string>('challenged', utf8),
    /** "<pack ID>!<friend PeerId>" -> JSON {atMs, reason}: our pack failed a storage challenge there and is not copied again yet (mesh/challenge-ledger.ts) */
    challengeFailed: db.sublevel<string, string>('challengeFailed', utf8),
    /** friend PeerId -> JSON {tokens, atMs}: bytes of challenges the rotation may still read there (mesh/challenge-ledger.ts) */
    challengeBudget: db.sublevel<string, string>('challengeBudget', utf8),
    /** "last" -> DrillResult JSON; "copy!<friend PeerId>!<pack ID>" -> JSON {atMs, ok, reason}: restore drills, the last and per copy (mesh/drill-ledger.ts) */
    drills: db.sublevel<string, string>('drills', utf8),
    /** job ID (creation time, sortable) -> Job JSON (protocol/api.ts): the scheduler's runs */
    jobs: db.sublevel<string, string>('jobs', utf8),
    /** "<volume>!<path below it>" -> JSON {size, mtimeNs, ctimeNs, inode, dev, content}: unchanged-file cache of volumes read through their mountpoint (state/volume-file-cache.ts) */
    volumeFiles: db.sublevel<string, string>('volumeFiles', utf8),
    /** name -> JSON singletons: "head" (our newest SignedHead) */
    meta: db.sublevel<string, string>('meta', utf8),
  };
}

export type Sublevels = ReturnType<typeof sublevels>;

/** One write in a batch on the root database that may span sublevels (committed all or nothing). */
export type StateOp =
  { type: 'put'; sublevel: Sublevels[keyof Sublevels]; key: string; value: string } | { type: 'del'; sublevel: Sublevels[keyof Sublevels]; key: string };

/** The open state database: the root (for batches that span sublevels, and closing) and its sublevels. */
export interface StateStore {
  db: StateDb;
  sub: Sublevels;
}

/**
 * What the repository engine keeps in the state database (repo/repository.ts): its sublevels, and
 * the root its synced batches are written on (other ledgers' ops may join one: prune's delete requests).
 */
export interface EngineState extends Pick<Sublevels, 'index' | 'snapshots' | 'pins' | 'volumeFiles'> {
  db: StateDb;
}

/** The engine's part of an open state database. */
export function engineState({ db, sub }: StateStore): EngineState {
  return { db, index: sub.index, snapshots: sub.snapshots, pins: sub.pins, volumeFiles: sub.volumeFiles };
}

/** Opens (creating when missing) the state database in `dir`: the composition root does, once per process (compose-root.ts; the relay its own: mesh/relay-home.ts). */
export async function openStateDb(dir: string): Promise<StateStore> {
  const db = new Level<string, string>(dir, { valueEncoding: 'utf8' });
  try {
    await db.open();
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    if (cause?.code === 'LEVEL_LOCKED' || /lock/i.test(cause?.message ?? '')) {
      throw new CairnError('E_LOCKED', `the state database ${dir} is in use by another cairn process (an agent or a running command)`);
    }
    throw new CairnError('E_STATE', `cannot open the state database ${dir}: ${cause?.message ?? (err as Error).message}`);
  }
  const sub = sublevels(db);
  reopenAfterIoErrors(db, sub, dir);
  return { db, sub };
}

/** Writes, syncs and removes a small file in `dir`: throws what the disk says when it still fails. */
async function probeDisk(dir: string): Promise<void> {
  const probe = join(dir, '.write-probe');
  const fh = await open(probe, 'w');
  try {
    await fh.write('probe');
    await fh.datasync();
  } finally {
    await fh.close();
    await unlink(probe).catch(() => undefined);
  }
}

/** Whether `err` (or its cause) is LevelDB's I/O error (LEVEL_IO_ERROR: EIO, ENOSPC, ... on its files). */
function isLevelIoError(err: unknown): boolean {
  for (let e = err, depth = 0; e !== null && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === 'LEVEL_IO_ERROR') return true;
  }
  return false;
}

/**
 * LevelDB refuses every later write once a sync of its log has failed (the log's state is then
 * indeterminate: leveldb's DBImpl::Write records a background error), and so would the agent until
 * it restarts: an fsync EIO on a failing disk, or a background compaction that hit a full disk.
 * So after a write fails with an I/O error, the next write first checks that the disk takes a synced
 * write again (a probe file in the database's directory), then closes and reopens the database
 * (which replays the log). Until then reads go on (a poisoned LevelDB still reads) and writes fail
 * with the probe's error: the failed operation failed, and the next one of the same process works
 * once the fault is gone. (Should the reopen itself fail, the database is closed until a later call
 * reopens it.) The failed write may or may not be there after
 * the reopen, as after a crash; every write is ordered so that either is safe (SPEC 9). Sublevels
 * write through the root's methods.
 */
function reopenAfterIoErrors(db: StateDb, sub: Sublevels, dir: string): void {
  let poisoned = false;
  let reopening: Promise<void> | undefined;
  const reopen = (): Promise<void> =>
    (reopening ??= (async () => {
      try {
        // closing a poisoned database that still reads, while its disk still fails, would only
        // make it unreadable: first a synced write of our own in its directory must succeed
        await probeDisk(dir);
        if (db.status === 'open') await db.close();
        // closing the root closed its sublevels, and opening it does not reopen them. All are set
        // opening at once (synchronously, when the database was closed already), so that an
        // iterator made meanwhile waits for the open instead of failing
        await Promise.all([db.open(), ...Object.values(sub).map((s) => s.open())]);
        poisoned = false;
      } finally {
        reopening = undefined;
      }
    })());
  // the root and every sublevel: a sublevel closed by a failed reopen refuses calls before they reach the root
  for (const target of [db, ...Object.values(sub)] as unknown as Array<Record<string, unknown>>) {
    for (const method of ['put', 'del', 'batch', 'get', 'getMany', 'has']) {
      const original = (target[method] as (...args: unknown[]) => Promise<unknown>).bind(target);
      const write = method === 'put' || method === 'del' || method === 'batch';
      const guarded = async (...args: unknown[]): Promise<unknown> => {
        if (poisoned && (write || db.status !== 'open')) await reopen();
        try {
          return await original(...args);
        } catch (err) {
          if (write && isLevelIoError(err)) poisoned = true;
          throw err;
        }
      };
      Object.defineProperty(target, method, { value: guarded, configurable: true, writable: true });
    }
    // iterators are made synchronously: a closed database starts reopening, and the iterator waits for it
    for (const method of ['iterator', 'keys', 'values']) {
      const original = (target[method] as (...args: unknown[]) => unknown).bind(target);
      const guarded = (...args: unknown[]): unknown => {
        if (poisoned && db.status === 'closed' && reopening === undefined) void reopen().catch(() => undefined);
        return original(...args);
      };
      Object.defineProperty(target, method, { value: guarded, configurable: true, writable: true });
    }
  }
}
