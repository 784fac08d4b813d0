// Heads: the owner's list of live snapshots, signed with its peer key (Ed25519), numbered, and
// chained by the SHA-256 of the previous head. Friends keep the newest and refuse older ones; a
// restoring owner takes the newest valid head across friends and reports friends that lag.
import { createHash } from 'node:crypto';
import type { PrivateKey, PublicKey } from '@libp2p/interface';
import { canonicalHead, type Head, type SignedHead } from '../../../protocol/mesh.js';
import { open, seal } from '../crypto/aead.js';
import type { Repository } from '../repo/repository.js';
import { CorruptionError } from '../util/errors.js';
import type { Friendship } from './friend-ledger.js';
import type { OwnHead } from './own-head-ledger.js';
import { boundSettings, mergeSettings, settingsOf, type HeadSettings, type SettingsOffer } from './head-settings.js';

const FRIENDS_AD = Buffer.from('cairn/v1/head-friends');

export type FriendRecord = Pick<Friendship, 'peerId' | 'name' | 'addrs' | 'grantToPeer' | 'grantFromPeer' | 'createdAt'>;

export function headHash(h: Head): string {
  return createHash('sha256').update(canonicalHead(h)).digest('hex');
}

export async function signHead(key: PrivateKey, head: Head): Promise<SignedHead> {
  const sig = await key.sign(canonicalHead(head));
  return { head, signature: Buffer.from(sig).toString('base64') };
}

export async function verifyHead(pub: PublicKey, s: SignedHead): Promise<boolean> {
  try {
    return await pub.verify(canonicalHead(s.head), Buffer.from(s.signature, 'base64'));
  } catch {
    return false;
  }
}

/**
 * What a head seals with the meta key: the friend list (a recovering host dials them), the pins
 * (a recovered host must not forget what was pinned) and the owner's settings (head-settings.ts: a
 * recovered home gets its cairn.yaml back). Heads before pins sealed a bare array; heads before
 * settings have none.
 */
export interface SealedState {
  friends: FriendRecord[];
  /** Pinned snapshot ID -> when it was pinned. */
  pins: Record<string, string>;
  /** The owner's settings files; absent when none was carried. */
  settings?: HeadSettings;
}

export function sealState(repo: Repository, friends: Friendship[], pins: Map<string, string>, settings: HeadSettings = {}): string {
  const records: FriendRecord[] = friends.map(({ peerId, name, addrs, grantToPeer, grantFromPeer, createdAt }) => ({
    peerId,
    name,
    addrs,
    grantToPeer,
    grantFromPeer,
    createdAt,
  }));
  const state: SealedState = {
    friends: records,
    pins: Object.fromEntries([...pins].sort(([a], [b]) => (a < b ? -1 : 1))),
    ...(Object.keys(settings).length > 0 ? { settings } : {}),
  };
  return seal(repo.keys.meta, Buffer.from(JSON.stringify(state)), FRIENDS_AD).toString('base64');
}

export function openState(repo: Repository, head: Head): SealedState {
  const plain = open(repo.keys.meta, Buffer.from(head.sealedFriends, 'base64'), FRIENDS_AD);
  if (!plain) throw new CorruptionError("the head's friend list does not decrypt with this repository's key");
  const v = JSON.parse(plain.toString('utf8')) as FriendRecord[] | SealedState;
  if (Array.isArray(v)) return { friends: v, pins: {}, settings: {} };
  // fields this version does not know are ignored (SPEC 7, unknown fields)
  return { friends: v.friends, pins: v.pins, settings: settingsOf(v.settings) };
}

export function openFriends(repo: Repository, head: Head): FriendRecord[] {
  return openState(repo, head).friends;
}

/** What a new head carries besides the snapshot list and the friends. */
export interface HeadExtras {
  /** The owner's settings now (head-settings.ts); absent: the previous head's stay. */
  settings?: SettingsOffer;
  /** Where a settings file left out of a new head (too large) is said. */
  log?: (line: string) => void;
}

/** A new head when the snapshot list, the friends, the pins or the settings changed since the one in `ownHead` (kept there); else that one. */
export async function nextHead(
  repo: Repository,
  ownHead: OwnHead,
  key: PrivateKey,
  friends: Friendship[],
  now: Date,
  extras: HeadExtras = {},
): Promise<{ head: SignedHead; changed: boolean }> {
  const prev = await ownHead.get();
  const snapshots = (await repo.listSnapshots()).map((s) => s.id).sort();
  // addresses count too: a recovering host dials friends at the addresses its head lists
  const friendKey = (f: FriendRecord) => `${f.peerId}:${f.grantFromPeer}:${f.grantToPeer}:${[...f.addrs].sort().join(',')}`;
  const friendIds = friends.map(friendKey).sort();
  const pins = await repo.pins();
  const pinKey = (p: Record<string, string>) => JSON.stringify(Object.keys(p).sort());
  const prevState: SealedState = prev ? openState(repo, prev.head) : { friends: [], pins: {} };
  const prevFriends = prevState.friends.map(friendKey).sort();
  const samePins = pinKey(prevState.pins) === pinKey(Object.fromEntries(pins));
  // the bound applies before comparing: a file too large to carry does not make a new head every round
  const { settings, omitted } = boundSettings(mergeSettings(prevState.settings ?? {}, extras.settings));
  const sameSettings = JSON.stringify(settings) === JSON.stringify(prevState.settings ?? {});
  if (
    prev &&
    JSON.stringify(prev.head.snapshots) === JSON.stringify(snapshots) &&
    JSON.stringify(prevFriends) === JSON.stringify(friendIds) &&
    samePins &&
    sameSettings
  ) {
    return { head: prev, changed: false };
  }
  for (const line of omitted) extras.log?.(`head: ${line}`);
  const head: Head = {
    version: 1,
    repoId: repo.config.repoId,
    seq: (prev?.head.seq ?? 0) + 1,
    prev: prev ? headHash(prev.head) : null,
    time: now.toISOString(),
    snapshots,
    chunker: repo.config.chunker,
    sealedFriends: sealState(repo, friends, pins, settings),
  };
  const signed = await signHead(key, head);
  await ownHead.save(signed);
  return { head: signed, changed: true };
}
