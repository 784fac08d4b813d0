// Disaster recovery: a fresh home holding only the root secret (from the recovery phrase) has the
// same PeerId as the lost host, so its friends recognise it. From the friend that issued an invite
// it learns the newest signed head (checked with its own key; the newest valid head across every
// friend wins, and friends that lag are reported), the friend list (sealed in the head), which
// packs each friend holds (friend-pack-store.ts), from whose headers (fetched as byte ranges) the
// engine rebuilds the index (repo/index-from-packs.ts); then the snapshot blobs listed in the
// head, and the settings files the head carried (written into the home by ops/recover.ts). Pack
// data stays at friends until a restore needs it.
import { peerIdFromString } from '@libp2p/peer-id';
import type { SignedHead } from '../../../protocol/mesh.js';
import { BlobType } from '../repo/blob.js';
import { indexFromPacks } from '../repo/index-from-packs.js';
import type { Repository } from '../repo/repository.js';
import { CairnError, errorMessage } from '../util/errors.js';
import { openFriends, openState, verifyHead } from './head-chain.js';
import { getHead } from './head.js';
import type { HeadSettings } from './head-settings.js';
import type { Mesh } from './compose.js';
import { openFriendPackStores } from './friend-pack-store.js';
import { offersSpace } from './friend-ledger.js';

export interface RecoverResult {
  headSeq: number;
  snapshots: number;
  friends: string[];
  packs: number;
  warnings: string[];
  /** The settings files the newest head carried (none from heads made before they were carried). */
  settings: HeadSettings;
}

export async function recoverFromFriends(repo: Repository, mesh: Mesh, code: string): Promise<RecoverResult> {
  const warnings: string[] = [];
  const accept = await mesh.pairing.pair(code, 0);
  const inviter = (await mesh.ledgers.friends.list()).find((f) => f.name === accept.name && f.peerId === accept.peerId);
  if (!inviter) throw new CairnError('E_RECOVER', 'pairing with the inviter did not record a friendship');
  const ctx = mesh.ctx;
  const self = ctx.node.peerId;
  if (!self.publicKey) throw new CairnError('E_RECOVER', 'this agent has no public key');

  const valid = async (peerId: string): Promise<SignedHead | null> => {
    const h = await getHead(ctx, peerIdFromString(peerId));
    if (h === null) return null;
    if (!(await verifyHead(self.publicKey!, h)) || h.head.repoId !== repo.config.repoId) {
      warnings.push(`friend ${peerId} served a head that is not ours or not validly signed: ignored`);
      await mesh.ledgers.friends.addProblem(peerId, 'served an invalid head');
      return null;
    }
    return h;
  };
  const first = await valid(inviter.peerId);
  if (!first)
    throw new CairnError(
      'E_RECOVER',
      `${inviter.name} holds no snapshot list for this repository: is this the right recovery phrase, and did this host ever replicate to ${inviter.name}?`,
    );

  // Friends from the head; the inviter's record (current grants) wins over the old copy.
  const now = new Date(ctx.clock.now()).toISOString();
  for (const f of openFriends(repo, first.head)) {
    const isInviter = f.peerId === inviter.peerId;
    await mesh.ledgers.friends.put({
      ...f,
      ...(isInviter ? { addrs: inviter.addrs, grantFromPeer: accept.grantFromPeer, lastSeen: now } : { lastSeen: null }),
      shortfall: null,
      problems: [],
    });
  }
  await mesh.presence.remember();

  // Newest valid head across every friend that answers; lagging friends are reported.
  const heads: Array<{ peerId: string; name: string; head: SignedHead | null }> = [];
  // a friend that offers us no space (a relay) holds no head of ours
  for (const f of (await mesh.ledgers.friends.list()).filter((x) => offersSpace(x) || x.peerId === inviter.peerId)) {
    try {
      heads.push({ peerId: f.peerId, name: f.name, head: f.peerId === inviter.peerId ? first : await valid(f.peerId) });
    } catch (err) {
      warnings.push(`${f.name} is unreachable: ${errorMessage(err)}`);
    }
  }
  const best = heads.reduce<SignedHead>((b, h) => (h.head && h.head.head.seq > b.head.seq ? h.head : b), first);
  for (const h of heads) {
    if (h.head && h.head.head.seq < best.head.seq) {
      const msg = `${h.name} serves an older snapshot list (seq ${h.head.head.seq}) than ${best.head.seq} seen elsewhere: it may be rolling us back`;
      warnings.push(msg);
      await mesh.ledgers.friends.addProblem(h.peerId, msg);
    }
  }

  // Each friend's copies as a read-only pack store (with the size each gave), then the index
  // rebuilt from their pack headers by the engine.
  const stores = await openFriendPackStores(ctx, heads, warnings);
  const { packs } = await indexFromPacks(
    repo,
    stores.map((s) => ({ name: s.peerId, store: s })),
    warnings,
    'friend',
  );

  // The snapshots the head lists.
  let restored = 0;
  for (const id of best.head.snapshots) {
    try {
      const json = await repo.loadBlob(id, BlobType.snapshot);
      await repo.putSnapshotRecord(id, json);
      restored += 1;
    } catch (err) {
      warnings.push(`snapshot ${id.slice(0, 8)} cannot be recovered: ${errorMessage(err)}`);
    }
  }
  // pins travel in the head: a recovered host keeps what its owner pinned
  const state = openState(repo, best.head);
  for (const [id, pinnedAt] of Object.entries(state.pins)) {
    if (!best.head.snapshots.includes(id)) continue;
    await repo
      .pinSnapshot(id, new Date(pinnedAt))
      .catch((err: unknown) => warnings.push(`snapshot ${id.slice(0, 8)} was pinned but cannot be pinned again: ${errorMessage(err)}`));
  }
  const mine = await mesh.ledgers.ownHead.get();
  if (!mine || mine.head.seq < best.head.seq) await mesh.ledgers.ownHead.save(best);
  return {
    headSeq: best.head.seq,
    snapshots: restored,
    friends: (await mesh.ledgers.friends.list()).map((f) => f.name),
    packs,
    warnings,
    settings: state.settings ?? {},
  };
}
