// Invite codes: a round trip keeps every field; any altered character, a wrong prefix or a
// payload with missing or mistyped fields is refused with InviteFormatError before any dial.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeInvite, encodeInvite, INVITE_PREFIX, InviteFormatError, inviteId, type Invite } from './invite.js';

const INV: Invite = {
  peerId: '12D3KooWRm8J3iL796zPFi2EtGGtUJn58AG67gcqzMFHZnnsTzqD',
  addrs: ['/ip4/127.0.0.1/tcp/4001', '/ip6/::1/tcp/4001'],
  expiresAt: 1_900_000_000,
  quotaBytes: 20 * 1024 ** 3,
  secret: '00112233445566778899aabbccddeeff',
};

/** A code with a payload of our choosing and a correct checksum (what a malicious inviter could make). */
function forge(payload: unknown): string {
  const p = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${INVITE_PREFIX}.${p}.${createHash('sha256').update(p).digest('hex').slice(0, 8)}`;
}

function expectFormatError(code: string, message: RegExp): void {
  let caught: unknown;
  try {
    decodeInvite(code);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(InviteFormatError);
  expect((caught as Error).message).toMatch(message);
}

describe('invite codes', () => {
  it('round-trips every field, and tolerates surrounding whitespace', () => {
    const code = encodeInvite(INV);
    expect(code).toMatch(/^cairn1\.[A-Za-z0-9_-]+\.[0-9a-f]{8}$/);
    expect(decodeInvite(code)).toEqual(INV);
    expect(decodeInvite(`  ${code}\n`)).toEqual(INV);
    expect(decodeInvite(encodeInvite({ ...INV, addrs: [] }))).toEqual({ ...INV, addrs: [] });
  });

  it('refuses every single-character change of the payload or the checksum', () => {
    const code = encodeInvite(INV);
    const start = INVITE_PREFIX.length + 1;
    let refused = 0;
    for (let i = start; i < code.length; i++) {
      if (code[i] === '.') continue;
      const c = code[i] === 'A' ? 'B' : code[i] === '0' ? '1' : 'A';
      const tampered = code.slice(0, i) + c + code.slice(i + 1);
      expect(() => decodeInvite(tampered), `change at ${i}`).toThrow(InviteFormatError);
      refused += 1;
    }
    expect(refused).toBeGreaterThan(100);
    expectFormatError(code.slice(0, -1) + (code.endsWith('0') ? '1' : '0'), /checksum/);
  });

  it('refuses a wrong or missing prefix and a wrong number of parts', () => {
    const code = encodeInvite(INV);
    const [, payload, sum] = code.split('.');
    expectFormatError(`cairn2.${payload}.${sum}`, /not a Cairn invite/);
    expectFormatError(`CAIRN1.${payload}.${sum}`, /not a Cairn invite/);
    expectFormatError(`${payload}.${sum}`, /not a Cairn invite/);
    expectFormatError(`${code}.extra`, /not a Cairn invite/);
    expectFormatError('', /not a Cairn invite/);
  });

  it('refuses payloads with missing or mistyped fields even when the checksum matches', () => {
    const good = { p: INV.peerId, a: INV.addrs, e: INV.expiresAt, q: INV.quotaBytes, s: INV.secret };
    expect(decodeInvite(forge(good))).toEqual(INV);
    for (const key of ['p', 'a', 'e', 'q', 's'] as const) {
      const { [key]: _drop, ...rest } = good;
      expectFormatError(forge(rest), /missing fields/);
    }
    const bad: Array<Record<string, unknown>> = [
      { p: 42 },
      { a: '/ip4/1.2.3.4/tcp/1' },
      { a: [1] },
      { e: '1900000000' },
      { e: 1.5 },
      { q: 2 ** 60 },
      { s: INV.secret.toUpperCase() },
      { s: INV.secret.slice(2) },
      { s: `${INV.secret}00` },
    ];
    for (const change of bad) expectFormatError(forge({ ...good, ...change }), /missing fields/);
    // a checksum-valid payload that is not JSON
    const p = Buffer.from('not json').toString('base64url');
    expectFormatError(`${INVITE_PREFIX}.${p}.${createHash('sha256').update(p).digest('hex').slice(0, 8)}`, /not readable/);
  });

  it('files an invite under an ID that does not reveal the secret', () => {
    const id = inviteId(INV.secret);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(id).not.toContain(INV.secret);
    expect(inviteId('ffeeddccbbaa99887766554433221100')).not.toBe(id);
  });
});
