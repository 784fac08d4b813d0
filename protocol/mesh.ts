// The friend mesh on the wire: protocol IDs, limits, messages and their runtime validation.
// Every request and response is one length-prefixed JSON frame (unsigned varint length, then
// UTF-8 JSON); pack bytes travel as raw length-prefixed frames of at most PACK_FRAME_BYTES.
// See SPEC.md section 14.

export const PROTOCOLS = {
  pair: '/cairn/pair/1.0.0',
  packPut: '/cairn/pack-put/1.0.0',
  packGet: '/cairn/pack-get/1.0.0',
  packList: '/cairn/pack-list/1.0.0',
  head: '/cairn/head/1.0.0',
  packDelete: '/cairn/pack-delete/1.0.0',
  reach: '/cairn/reach/1.0.0',
  challenge: '/cairn/challenge/1.0.0',
  grant: '/cairn/grant/1.0.0',
} as const;

/**
 * Streams of one protocol one peer may have open to us at once, over all its connections; a stream
 * past it is reset as it opens. Each open stream may hold up to 4 MiB that libp2p buffers unread, so
 * these bound what one hostile friend makes us hold. An owner's restore reads 8 files at once and
 * prefetches 2 packs per friend (pack-get); a replication round pushes 3 packs (pack-put), and a
 * round asked for through the CLI may run beside the daemon's.
 */
export const INBOUND_STREAMS_PER_PEER: Readonly<Record<string, number>> = {
  [PROTOCOLS.packGet]: 16,
  [PROTOCOLS.packPut]: 8,
  // a round challenges 4 packs at once at a friend; `cairn audit` may run beside the daemon's round
  [PROTOCOLS.challenge]: 8,
  [PROTOCOLS.pair]: 2,
};
/** The same for every other protocol (one exchange at a time, two when rounds overlap). */
export const DEFAULT_INBOUND_STREAMS_PER_PEER = 4;
/** Streams of one protocol open to us at once from all peers together. */
export const INBOUND_STREAMS_PER_PROTOCOL = 64;

/** Largest frame anyone may send; a longer length prefix resets the stream before allocation. */
export const MAX_FRAME_BYTES = 1024 * 1024 + 1024;
/** Pack bytes per data frame. */
export const PACK_FRAME_BYTES = 1024 * 1024;
/** Largest pack a friend accepts. */
export const MAX_PACK_BYTES = 64 * 1024 * 1024;
/** Largest JSON message (requests, responses, heads). */
export const MAX_MESSAGE_BYTES = 256 * 1024;
/**
 * Bytes a receiver keeps unread on a stream that carries messages only (every exchange but the
 * pack bytes of pack-put and pack-get): one message and its length prefix. More resets the stream,
 * so a peer that writes frames nobody asked for holds at most this much of our memory per stream
 * (libp2p's own limit is 4 MiB).
 */
export const MESSAGE_STREAM_BUFFER_BYTES = MAX_MESSAGE_BYTES + 3;
/**
 * The same on a stream that carries pack bytes (a pack-put's receiver, a pack-get's requester):
 * one message (pack-get's ready, which the sender follows at once with pack bytes) and the 3
 * unacknowledged frames of at most MAX_FRAME_BYTES a sender may have in flight (13.2), with their
 * length prefixes.
 */
export const PACK_STREAM_BUFFER_BYTES = MESSAGE_STREAM_BUFFER_BYTES + 3 * (MAX_FRAME_BYTES + 3);
/** Pack IDs per pack-list response frame. */
export const MAX_LIST_PAGE = 2000;
export const MAX_NAME_CHARS = 64;
export const MAX_ADDRS = 16;
export const MAX_ADDR_CHARS = 256;
/** Longest wait for one frame (or one write) on a stream before it counts as stalled. */
export const STREAM_TIMEOUT_MS = 60_000;
/**
 * Slowest pace a pack transfer (pack-put, pack-get, in both directions) may keep: a transfer of
 * n bytes must end within TRANSFER_GRACE_MS + n / MIN_TRANSFER_BYTES_PER_SEC, or the stream is
 * reset (one 1 MiB frame per STREAM_TIMEOUT_MS is about the same pace).
 */
export const MIN_TRANSFER_BYTES_PER_SEC = 16 * 1024;
/**
 * Lowest upload limit (`bandwidth-limit`) an owner may set: up to 3 pushes share it, and each
 * must keep MIN_TRANSFER_BYTES_PER_SEC or the friend cuts it off; 64 KiB/s leaves a margin.
 */
export const MIN_UPLOAD_LIMIT_BYTES_PER_SEC = 64 * 1024;
/** Time every exchange gets on top of its size-derived share (dialling, reading the request). */
export const TRANSFER_GRACE_MS = 60_000;
/**
 * Most pack IDs a recovering host takes from one friend's pack-list (a replication audit allows
 * what it believes the friend holds, plus a margin): 16 TiB of 16 MiB packs.
 */
export const MAX_RECOVERY_LIST_PACKS = 1_000_000;
/** Pack IDs per delete request (a request is one JSON message). */
export const MAX_DELETE_PACKS = 2000;
/**
 * Least a pack is charged against a grant, whatever its size: each pack also costs the friend an
 * inode, a directory entry, at least one 4 KiB file-system block and a LevelDB row, so a grant of
 * bytes would otherwise be a grant of unlimited files (600 packs of 100 bytes in a 64 KiB grant).
 */
export const MIN_PACK_CHARGE_BYTES = 64 * 1024;
/** Packs a friend keeps for one owner, whatever the grant: bounds its inodes, LevelDB rows and pack list. */
export const MAX_HOSTED_PACKS_PER_OWNER = 100_000;
/**
 * Most bytes of the owner's settings a head carries (SPEC 13.5): the JSON of the sealed `settings`
 * (cairn.yaml's and notifications.json's text). A cairn.yaml is a few KiB; one that would not fit
 * is left out of the head (the agent logs it) rather than crowding out the snapshot list, which
 * must fit in one MAX_MESSAGE_BYTES message with it.
 */
export const MAX_HEAD_SETTINGS_BYTES = 32 * 1024;
/** Head puts a friend takes from one owner in a burst, and the sustained rate (one per this many ms). */
export const HEAD_PUT_BURST = 10;
export const HEAD_PUT_INTERVAL_MS = 6_000;

/** Bytes of a storage challenge's nonce (fresh and random for every challenge). */
export const CHALLENGE_NONCE_BYTES = 32;
/** Byte ranges one storage challenge may name. */
export const MAX_CHALLENGE_RANGES = 8;
/** Bytes all ranges of one storage challenge may cover together (what the friend reads from its disk). */
export const MAX_CHALLENGE_BYTES = 1024 * 1024;

/** Bytes a pack of `sizeBytes` is charged against the grant of the owner that stored it. */
export function packChargeBytes(sizeBytes: number): number {
  return Math.max(sizeBytes, MIN_PACK_CHARGE_BYTES);
}

/** Addresses one reach request may ask a friend to dial back. */
export const MAX_REACH_ADDRS = 8;
/** How long a friend tries to dial back one address of a reach request (the dials run at once). */
export const REACH_DIAL_TIMEOUT_MS = 5_000;
/** How long the asking side waits for a reach answer (the dial-backs and a margin). */
export const REACH_DEADLINE_MS = 10_000;
/** Reach requests a friend answers from one peer in a burst, and the sustained rate (one per this many ms). */
export const REACH_BURST = 3;
export const REACH_INTERVAL_MS = 60_000;

/** Wire error codes: a refused request answers `{ ok: false, code, message }`. */
export const WireError = {
  notFriend: 'E_NOT_FRIEND',
  malformed: 'E_MALFORMED',
  quota: 'E_QUOTA',
  diskFloor: 'E_DISK_FLOOR',
  badPack: 'E_BAD_PACK',
  notFound: 'E_NOT_FOUND',
  staleHead: 'E_STALE_HEAD',
  staleRequest: 'E_STALE_REQUEST',
  badSignature: 'E_BAD_SIGNATURE',
  inviteUnknown: 'E_INVITE_UNKNOWN',
  inviteExpired: 'E_INVITE_EXPIRED',
  inviteUsed: 'E_INVITE_USED',
  inviteBadProof: 'E_INVITE_PROOF',
  rateLimited: 'E_RATE_LIMITED',
  internal: 'E_INTERNAL',
} as const;
export type WireErrorCode = (typeof WireError)[keyof typeof WireError];

export interface WireRefusal {
  ok: false;
  code: WireErrorCode;
  message: string;
}

export interface PairRequest {
  inviteId: string;
  /** HMAC-SHA256(secret, "cairn/v1/pair" || inviterPeerId || joinerPeerId), hex. */
  proof: string;
  name: string;
  /** Bytes the joiner lets the inviter store. */
  grantBytes: number;
  /** Where the joiner listens (multiaddrs), so the inviter can dial it later. */
  addrs: string[];
}
export interface PairAccept {
  ok: true;
  name: string;
  /** Bytes the inviter lets the joiner store. */
  grantBytes: number;
  /** True when the joiner was already a friend (a recovered host). */
  known: boolean;
}

/** /cairn/reach/1.0.0: "dial me back at these addresses" (direct TCP multiaddrs, no /p2p/, no /p2p-circuit). */
export interface ReachRequest {
  addrs: string[];
}
export interface ReachReply {
  ok: true;
  /** The requested addresses the friend reached the requester at, on a new connection, within REACH_DIAL_TIMEOUT_MS. */
  confirmed: string[];
}

export interface PackPutRequest extends PackPutRecheck {
  packId: string;
  sizeBytes: number;
  /** The sender can resume: a friend holding the start of this pack from a cut push may answer `offset`. */
  resume?: boolean;
}
/** `recheck`: the owner's storage challenge found this copy wrong; a friend that holds it hashes it again and takes it anew when it is damaged. */
export interface PackPutRecheck {
  recheck?: boolean;
}
export interface PackPutReady {
  ok: true;
  /** The friend already holds this pack: send nothing. */
  have: boolean;
  /** Only to a request with `resume`: the friend holds the first `offset` bytes from a cut push; send the rest. */
  offset?: number;
}
export interface PackPutDone {
  ok: true;
  storedBytes: number;
}

export interface PackGetRequest {
  packId: string;
  /** Byte range; the whole pack when absent. A cut fetch resumes with the range after the bytes that arrived. */
  offset?: number;
  length?: number;
}
export interface PackGetReady {
  ok: true;
  sizeBytes: number;
}

/** A storage challenge: SHA-256 over the nonce, then the bytes of each range in order. */
export interface ChallengeRequest {
  packId: string;
  /** 32 random bytes, hex. */
  nonce: string;
  ranges: Array<{ offset: number; length: number }>;
}
/** `held: false`: the friend says it does not hold the pack (no digest). */
export type ChallengeAnswer = { ok: true; held: true; digest: string } | { ok: true; held: false };

export interface PackListRequest {
  after?: string;
}
export interface PackListPage {
  ok: true;
  packs: Array<{ id: string; sizeBytes: number }>;
  more: boolean;
}

export type HeadRequest = { op: 'get' } | { op: 'put'; head: SignedHead };
export interface HeadResponse {
  ok: true;
  head: SignedHead | null;
}

/** The owner's signed, sequence-numbered, hash-chained list of live snapshots. */
export interface Head {
  version: 1;
  repoId: string;
  seq: number;
  /** SHA-256 (hex) of the previous head's canonical bytes; null for seq 1. */
  prev: string | null;
  time: string;
  snapshots: string[];
  chunker: string;
  /** The owner's friends, sealed with its metadata key (base64): only the owner can read it. */
  sealedFriends: string;
}
export interface SignedHead {
  head: Head;
  /** Ed25519 signature (base64) by the owner's peer key over canonicalHead(head). */
  signature: string;
}

/** An owner asks a friend to delete packs it no longer needs; signed like heads. */
export interface DeleteRequest {
  version: 1;
  /** The owner's PeerId: must be the peer sending it. */
  owner: string;
  /** Strictly increasing per owner: an older or repeated request is refused. */
  seq: number;
  time: string;
  packs: string[];
}
export interface SignedDeleteRequest {
  request: DeleteRequest;
  /** Ed25519 signature (base64) by the owner's peer key over canonicalDeleteRequest(request). */
  signature: string;
}
export interface DeleteAccepted {
  ok: true;
  /** Packs the friend holds for the owner and will delete once its grace has passed. */
  accepted: number;
  /** Packs named that the friend does not hold for this owner (nothing happens to them). */
  notHeld: string[];
  /** When the friend deletes them (ISO). */
  dueAt: string;
}

// ---- validation -------------------------------------------------------------------------

export class MalformedMessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedMessageError';
  }
}

type Shape = Record<string, 'string' | 'number' | 'boolean' | 'object' | 'string?' | 'number?' | 'object?' | 'array'>;

function check<T>(value: unknown, shape: Shape, what: string): T {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new MalformedMessageError(`${what}: not an object`);
  const v = value as Record<string, unknown>;
  for (const [key, type] of Object.entries(shape)) {
    const optional = type.endsWith('?');
    const t = type.replace('?', '');
    const x = v[key];
    if (x === undefined && optional) continue;
    const ok = t === 'array' ? Array.isArray(x) : t === 'object' ? typeof x === 'object' && x !== null : typeof x === t;
    if (!ok) throw new MalformedMessageError(`${what}: field ${key} must be ${t}`);
    if (t === 'number' && (!Number.isSafeInteger(x) || (x as number) < 0))
      throw new MalformedMessageError(`${what}: field ${key} must be a non-negative integer`);
  }
  return value as T;
}

const HEX64 = /^[0-9a-f]{64}$/;

export function parsePairRequest(v: unknown): PairRequest {
  const m = check<PairRequest>(v, { inviteId: 'string', proof: 'string', name: 'string', grantBytes: 'number', addrs: 'array' }, 'pair request');
  if (m.addrs.length > MAX_ADDRS || !m.addrs.every((a) => typeof a === 'string' && a.length <= MAX_ADDR_CHARS))
    throw new MalformedMessageError('pair request: bad addrs');
  if (!/^[0-9a-f]{32}$/.test(m.inviteId) || !HEX64.test(m.proof)) throw new MalformedMessageError('pair request: bad inviteId or proof');
  if (m.name.length > MAX_NAME_CHARS) throw new MalformedMessageError('pair request: name too long');
  return m;
}

export function parseReachRequest(v: unknown): ReachRequest {
  const m = check<ReachRequest>(v, { addrs: 'array' }, 'reach request');
  if (m.addrs.length === 0 || m.addrs.length > MAX_REACH_ADDRS) throw new MalformedMessageError(`reach request: 1 to ${MAX_REACH_ADDRS} addrs`);
  if (!m.addrs.every((a) => typeof a === 'string' && a.length <= MAX_ADDR_CHARS)) throw new MalformedMessageError('reach request: bad addrs');
  return { addrs: m.addrs };
}

export function parseReachReply(v: unknown): ReachReply {
  const m = check<ReachReply>(v, { confirmed: 'array' }, 'reach reply');
  if (m.confirmed.length > MAX_REACH_ADDRS || !m.confirmed.every((a) => typeof a === 'string' && a.length <= MAX_ADDR_CHARS))
    throw new MalformedMessageError('reach reply: bad confirmed addrs');
  return { ok: true, confirmed: m.confirmed };
}

export function parsePackPutRequest(v: unknown): PackPutRequest {
  const m = check<PackPutRequest>(v, { packId: 'string', sizeBytes: 'number' }, 'pack-put request');
  if (!HEX64.test(m.packId)) throw new MalformedMessageError('pack-put request: bad packId');
  if (m.sizeBytes > MAX_PACK_BYTES) throw new MalformedMessageError(`pack-put request: pack of ${m.sizeBytes} bytes exceeds ${MAX_PACK_BYTES}`);
  if (m.recheck !== undefined && typeof m.recheck !== 'boolean') throw new MalformedMessageError('pack-put request: recheck must be true or false');
  if (m.resume !== undefined && typeof m.resume !== 'boolean') throw new MalformedMessageError('pack-put request: resume must be true or false');
  return m;
}

export function parsePackGetRequest(v: unknown): PackGetRequest {
  const m = check<PackGetRequest>(v, { packId: 'string', offset: 'number?', length: 'number?' }, 'pack-get request');
  if (!HEX64.test(m.packId)) throw new MalformedMessageError('pack-get request: bad packId');
  if ((m.offset === undefined) !== (m.length === undefined)) throw new MalformedMessageError('pack-get request: offset and length go together');
  if (m.length !== undefined && m.length > MAX_PACK_BYTES) throw new MalformedMessageError('pack-get request: range too long');
  if (m.offset !== undefined && m.offset + (m.length ?? 0) > MAX_PACK_BYTES) throw new MalformedMessageError('pack-get request: range beyond any pack');
  return m;
}

export function parseChallengeRequest(v: unknown): ChallengeRequest {
  const m = check<ChallengeRequest>(v, { packId: 'string', nonce: 'string', ranges: 'array' }, 'challenge request');
  if (!HEX64.test(m.packId)) throw new MalformedMessageError('challenge request: bad packId');
  if (!HEX64.test(m.nonce)) throw new MalformedMessageError(`challenge request: the nonce must be ${CHALLENGE_NONCE_BYTES} bytes in hex`);
  if (m.ranges.length === 0 || m.ranges.length > MAX_CHALLENGE_RANGES)
    throw new MalformedMessageError(`challenge request: 1 to ${MAX_CHALLENGE_RANGES} ranges, not ${m.ranges.length}`);
  let total = 0;
  for (const r of m.ranges as unknown[]) {
    const { offset, length } = check<{ offset: number; length: number }>(r, { offset: 'number', length: 'number' }, 'challenge range');
    if (length === 0 || offset + length > MAX_PACK_BYTES)
      throw new MalformedMessageError(`challenge request: range ${offset}+${length} is empty or beyond any pack`);
    total += length;
  }
  if (total > MAX_CHALLENGE_BYTES) throw new MalformedMessageError(`challenge request: ranges of ${total} bytes in all exceed ${MAX_CHALLENGE_BYTES}`);
  return m;
}

/** Grant messages (each a write of the friendship) taken from one friend in a burst, and the sustained rate: grants change by hand. */
export const GRANT_MESSAGE_BURST = 10;
export const GRANT_MESSAGE_INTERVAL_MS = 60_000;
/** Largest grant that can be given or asked for (1 PiB). */
export const MAX_GRANT_BYTES = 2 ** 50;
/** Longest note with a request for more space (characters, cleaned by the receiver before it is shown). */
export const MAX_ASK_NOTE_CHARS = 200;

/**
 * /cairn/grant/1.0.0 (SPEC 13.10): `grant` tells the friend what we now let it store here; `ask`
 * asks it for `bytes` there (one pending ask per friend: a new one replaces the last); `refuse`
 * says we will not grant the `bytes` it asked for. Answered `{ok: true}`.
 */
export type GrantMessage = { op: 'grant'; bytes: number } | { op: 'ask'; bytes: number; note?: string } | { op: 'refuse'; bytes: number };

export function parseGrantMessage(v: unknown): GrantMessage {
  const m = check<{ op: string; bytes: number; note?: string }>(v, { op: 'string', bytes: 'number', note: 'string?' }, 'grant message');
  if (m.op !== 'grant' && m.op !== 'ask' && m.op !== 'refuse') throw new MalformedMessageError('grant message: op must be grant, ask or refuse');
  if (m.bytes > MAX_GRANT_BYTES) throw new MalformedMessageError(`grant message: more than ${MAX_GRANT_BYTES} bytes`);
  if (m.note !== undefined && (m.op !== 'ask' || m.note.length > MAX_ASK_NOTE_CHARS))
    throw new MalformedMessageError(`grant message: a note goes only with an ask, at most ${MAX_ASK_NOTE_CHARS} characters`);
  return m as GrantMessage;
}

export function parsePackListRequest(v: unknown): PackListRequest {
  const m = check<PackListRequest>(v, { after: 'string?' }, 'pack-list request');
  if (m.after !== undefined && !HEX64.test(m.after)) throw new MalformedMessageError('pack-list request: bad cursor');
  return m;
}

export function parseSignedHead(v: unknown): SignedHead {
  const s = check<SignedHead>(v, { head: 'object', signature: 'string' }, 'signed head');
  const h = check<Head>(s.head, { repoId: 'string', seq: 'number', time: 'string', snapshots: 'array', chunker: 'string', sealedFriends: 'string' }, 'head');
  if (h.version !== 1) throw new MalformedMessageError('head: unknown version');
  if (h.prev !== null && (typeof h.prev !== 'string' || !HEX64.test(h.prev))) throw new MalformedMessageError('head: bad prev');
  if (!h.snapshots.every((x) => typeof x === 'string' && HEX64.test(x))) throw new MalformedMessageError('head: bad snapshot ID');
  return s;
}

export function parseHeadRequest(v: unknown): HeadRequest {
  const m = check<{ op: string }>(v, { op: 'string' }, 'head request');
  if (m.op === 'get') return { op: 'get' };
  if (m.op === 'put') return { op: 'put', head: parseSignedHead((v as { head: unknown }).head) };
  throw new MalformedMessageError('head request: op must be get or put');
}

export function parseSignedDeleteRequest(v: unknown): SignedDeleteRequest {
  const s = check<SignedDeleteRequest>(v, { request: 'object', signature: 'string' }, 'delete request');
  const r = check<DeleteRequest>(s.request, { owner: 'string', seq: 'number', time: 'string', packs: 'array' }, 'delete request');
  if (r.version !== 1) throw new MalformedMessageError('delete request: unknown version');
  if (r.packs.length === 0 || r.packs.length > MAX_DELETE_PACKS) throw new MalformedMessageError(`delete request: 1 to ${MAX_DELETE_PACKS} packs`);
  if (!r.packs.every((p) => typeof p === 'string' && HEX64.test(p))) throw new MalformedMessageError('delete request: bad pack ID');
  return s;
}

/** Canonical bytes of a delete request for signing: JSON with keys in a fixed order. */
export function canonicalDeleteRequest(r: DeleteRequest): Buffer {
  return Buffer.from(JSON.stringify({ version: r.version, owner: r.owner, seq: r.seq, time: r.time, packs: r.packs }));
}

/** Canonical bytes of a head for signing and chaining: JSON with keys in a fixed order. */
export function canonicalHead(h: Head): Buffer {
  const ordered = {
    version: h.version,
    repoId: h.repoId,
    seq: h.seq,
    prev: h.prev,
    time: h.time,
    snapshots: h.snapshots,
    chunker: h.chunker,
    sealedFriends: h.sealedFriends,
  };
  return Buffer.from(JSON.stringify(ordered));
}

export function isRefusal(v: unknown): v is WireRefusal {
  return typeof v === 'object' && v !== null && (v as { ok?: unknown }).ok === false && typeof (v as { code?: unknown }).code === 'string';
}
