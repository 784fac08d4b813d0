// cairn grant / cairn ask: what we let a friend store here changes after pairing, and a friend is
// asked for more space there (mesh/grant.ts carries both to the friend).
import type { AskArgs, AskResult, GrantArgs, GrantResult } from '../../../protocol/api.js';
import { formatBytes } from '../../../protocol/format.js';
import { MAX_ASK_NOTE_CHARS, MAX_GRANT_BYTES } from '../../../protocol/mesh.js';
import type { Friendship } from '../mesh/friend-ledger.js';
import { queueGrantMessage } from '../mesh/grant.js';
import { UsageError } from '../util/errors.js';
import type { ClockDeps, MeshDeps } from './services.js';

async function friendNamed(svc: MeshDeps, nameOrId: string): Promise<Friendship> {
  const friends = await svc.mesh.ledgers.friends.list();
  const match = friends.filter((f) => f.name === nameOrId || f.peerId === nameOrId);
  if (match.length === 1) return match[0] as Friendship;
  throw new UsageError(
    match.length === 0
      ? `no friend "${nameOrId}" (friends: ${friends.map((f) => f.name).join(', ') || 'none'})`
      : `"${nameOrId}" names ${match.length} friends: give the PeerId (cairn peers)`,
    match.length === 0 ? 'E_NOT_FOUND' : 'E_USAGE',
  );
}

function checkBytes(bytes: number): void {
  if (!Number.isSafeInteger(bytes) || bytes < 0 || bytes > MAX_GRANT_BYTES)
    throw new UsageError(`a grant is at most ${formatBytes(MAX_GRANT_BYTES)}, not ${bytes} bytes`);
}

/** Sets what friend `friend` may store here (its pending ask, if any, is answered), or with `refuse` turns its ask down. */
export async function grantOp(svc: MeshDeps, args: GrantArgs): Promise<GrantResult> {
  const mesh = svc.mesh;
  const f = await friendNamed(svc, args.friend);
  if (args.refuse === true) {
    if (args.bytes !== undefined) throw new UsageError('give either a size to grant or --refuse, not both');
    if (!f.askFromPeer) throw new UsageError(`${f.name} has not asked for more space`, 'E_NOT_FOUND');
    const bytes = f.askFromPeer.bytes;
    const delivered = await queueGrantMessage(mesh.ctx, f.peerId, { op: 'refuse', bytes }, (x) => delete x.askFromPeer);
    return { name: f.name, peerId: f.peerId, grantToPeer: f.grantToPeer, refusedBytes: bytes, delivered };
  }
  if (args.bytes === undefined) throw new UsageError('give the size to grant (e.g. 50G), or --refuse');
  checkBytes(args.bytes);
  const bytes = args.bytes;
  const delivered = await queueGrantMessage(mesh.ctx, f.peerId, { op: 'grant', bytes }, (x) => {
    x.grantToPeer = bytes;
    delete x.askFromPeer; // answered: granted what it asked for, or what we chose
  });
  return { name: f.name, peerId: f.peerId, grantToPeer: bytes, refusedBytes: null, delivered };
}

/** Asks friend `friend` to let us store `bytes` there: one pending ask per friend, a new one replaces the last. */
export async function askOp(svc: MeshDeps & ClockDeps, args: AskArgs): Promise<AskResult> {
  const mesh = svc.mesh;
  const f = await friendNamed(svc, args.friend);
  checkBytes(args.bytes);
  if (args.bytes <= f.grantFromPeer) throw new UsageError(`${f.name} already grants us ${formatBytes(f.grantFromPeer)}: ask for more than that`);
  if (args.note !== undefined && args.note.length > MAX_ASK_NOTE_CHARS) throw new UsageError(`the note is longer than ${MAX_ASK_NOTE_CHARS} characters`);
  const note = args.note;
  const delivered = await queueGrantMessage(mesh.ctx, f.peerId, { op: 'ask', bytes: args.bytes, ...(note !== undefined ? { note } : {}) }, (x) => {
    x.askToPeer = { bytes: args.bytes, at: new Date(svc.clock.now()).toISOString() };
  });
  return { name: f.name, peerId: f.peerId, askedBytes: args.bytes, grantFromPeer: f.grantFromPeer, delivered };
}
