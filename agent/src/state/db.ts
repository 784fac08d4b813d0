// The agent's LevelDB and every sublevel in it, declared once here.
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
    /** job ID (creation time, sortable) -> Job JSON (protocol/api.ts): the scheduler's runs */
    jobs: db.sublevel<string, string>('jobs', utf8),
    /** "<volume>!<path below it>" -> JSON {size, mtimeNs, ctimeNs, inode, dev, content}: unchanged-file cache of volumes read through their mountpoint (snapshot/volume-archiver.ts) */
    volumeFiles: db.sublevel<string, string>('volumeFiles', utf8),
    /** name -> JSON singletons: "head" (our newest SignedHead) */
    meta: db.sublevel<string, string>('meta', utf8),
  };
}

export type Sublevels = ReturnType<typeof sublevels>;

/** One write in a batch on the root database that may span sublevels (committed all or nothing). */
export type StateOp = { type: 'put'; sublevel: Sublevels[keyof Sublevels]; key: string; value: string } | { type: 'del'; sublevel: Sublevels[keyof Sublevels]; key: string };

export async function openStateDb(dir: string): Promise<{ db: StateDb; sub: Sublevels }> {
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
  return { db, sub: sublevels(db) };
}
