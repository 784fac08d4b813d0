// Invite codes: `cairn1.<base64url payload>.<checksum>` (base64url never contains a dot); the checksum is the first 4 bytes (hex) of
// SHA-256 over the payload text, so a mistyped or altered code is refused before any dial.
import { createHash } from 'node:crypto';

export const INVITE_PREFIX = 'cairn1';
export const INVITE_SECRET_BYTES = 16;

export interface Invite {
  /** The inviter's PeerId. */
  peerId: string;
  addrs: string[];
  /** Seconds since the epoch. */
  expiresAt: number;
  /** Bytes the inviter offers to store for the joiner. */
  quotaBytes: number;
  /** 128-bit one-time secret, hex. */
  secret: string;
}

export class InviteFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InviteFormatError';
  }
}

function checksum(payload: string): string {
  return createHash('sha256').update(payload).digest('hex').slice(0, 8);
}

export function encodeInvite(inv: Invite): string {
  const payload = Buffer.from(JSON.stringify({ p: inv.peerId, a: inv.addrs, e: inv.expiresAt, q: inv.quotaBytes, s: inv.secret })).toString('base64url');
  return `${INVITE_PREFIX}.${payload}.${checksum(payload)}`;
}

export function decodeInvite(code: string): Invite {
  const parts = code.trim().split('.');
  if (parts.length !== 3 || parts[0] !== INVITE_PREFIX)
    throw new InviteFormatError('not a Cairn invite code (it should look like cairn1.<letters>.<8 hex digits>)');
  const [, payload, sum] = parts as [string, string, string];
  if (checksum(payload) !== sum) throw new InviteFormatError('invite code is damaged or altered (checksum mismatch): copy it again');
  let raw: { p?: unknown; a?: unknown; e?: unknown; q?: unknown; s?: unknown };
  try {
    raw = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as typeof raw;
  } catch {
    throw new InviteFormatError('invite code payload is not readable');
  }
  const ok =
    typeof raw.p === 'string' &&
    Array.isArray(raw.a) &&
    raw.a.every((x) => typeof x === 'string') &&
    Number.isSafeInteger(raw.e) &&
    Number.isSafeInteger(raw.q) &&
    typeof raw.s === 'string' &&
    new RegExp(`^[0-9a-f]{${INVITE_SECRET_BYTES * 2}}$`).test(raw.s);
  if (!ok) throw new InviteFormatError('invite code payload is missing fields');
  return { peerId: raw.p as string, addrs: raw.a as string[], expiresAt: raw.e as number, quotaBytes: raw.q as number, secret: raw.s as string };
}

/** The ID under which the inviter files an invite: SHA-256(secret) truncated; reveals nothing of it. */
export function inviteId(secretHex: string): string {
  return createHash('sha256').update(Buffer.from(secretHex, 'hex')).digest('hex').slice(0, 32);
}
