// The friend mesh's runtime validation: each parse* function accepts a well-formed message and
// refuses, with MalformedMessageError, anything that is not an object, a field of the wrong type,
// a negative / fractional / unsafe number, bad hex, and values above the protocol limits.
import { describe, expect, it } from 'vitest';
import {
  canonicalHead,
  isRefusal,
  MalformedMessageError,
  MAX_ADDR_CHARS,
  MAX_ADDRS,
  MAX_NAME_CHARS,
  MAX_ASK_NOTE_CHARS,
  MAX_GRANT_BYTES,
  MAX_PACK_BYTES,
  parseGrantMessage,
  parseHeadRequest,
  parsePackGetRequest,
  parsePackListRequest,
  parsePackPutRequest,
  parsePairRequest,
  parseSignedHead,
  type Head,
  type SignedHead,
} from './mesh.js';

const HEX64 = 'ab'.repeat(32);
const HEX32 = 'cd'.repeat(16);
const NOT_OBJECTS: unknown[] = [null, undefined, 0, 1, 'x', true, [], [{}]];
/** Values no number field may take. */
const BAD_NUMBERS: unknown[] = [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '1', null, true, [1], {}];
/** Values no 64-hex field may take. */
const BAD_HEX64: unknown[] = ['', HEX64.toUpperCase(), HEX64.slice(1), `${HEX64}0`, `${HEX64.slice(0, 63)}g`, ` ${HEX64.slice(1)}`, 7, null, [HEX64]];

function refused(fn: () => unknown, message?: RegExp): void {
  let caught: unknown;
  let value: unknown;
  try {
    value = fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, `accepted ${JSON.stringify(value)}`).toBeInstanceOf(MalformedMessageError);
  if (message) expect((caught as Error).message).toMatch(message);
}

describe('parsePairRequest', () => {
  const good = { inviteId: HEX32, proof: HEX64, name: 'alice', grantBytes: 1024, addrs: ['/ip4/127.0.0.1/tcp/4001'] };
  it('accepts a well-formed request, at the limits', () => {
    expect(parsePairRequest(good)).toEqual(good);
    const full = { ...good, name: 'n'.repeat(MAX_NAME_CHARS), addrs: Array.from({ length: MAX_ADDRS }, () => 'a'.repeat(MAX_ADDR_CHARS)), grantBytes: 0 };
    expect(parsePairRequest(full)).toEqual(full);
  });
  it('refuses non-objects and wrong types', () => {
    for (const v of NOT_OBJECTS) refused(() => parsePairRequest(v), /not an object/);
    for (const key of Object.keys(good)) {
      const { [key as keyof typeof good]: _drop, ...rest } = good;
      refused(() => parsePairRequest(rest), new RegExp(key));
    }
    for (const n of BAD_NUMBERS) refused(() => parsePairRequest({ ...good, grantBytes: n }));
    for (const s of [1, null, ['alice'], {}]) refused(() => parsePairRequest({ ...good, name: s }));
    for (const a of ['x', { 0: 'x' }, null, [1], [null], [['x']]]) refused(() => parsePairRequest({ ...good, addrs: a }));
  });
  it('refuses bad hex in the invite ID and proof', () => {
    for (const h of [...BAD_HEX64, HEX32.toUpperCase(), `${HEX32}00`]) refused(() => parsePairRequest({ ...good, inviteId: h }));
    refused(() => parsePairRequest({ ...good, inviteId: HEX64 }));
    for (const h of [...BAD_HEX64, HEX32]) refused(() => parsePairRequest({ ...good, proof: h }));
  });
  it('refuses oversize names and address lists', () => {
    refused(() => parsePairRequest({ ...good, name: 'n'.repeat(MAX_NAME_CHARS + 1) }), /name too long/);
    refused(() => parsePairRequest({ ...good, addrs: Array.from({ length: MAX_ADDRS + 1 }, () => '/ip4/1.2.3.4/tcp/1') }), /addrs/);
    refused(() => parsePairRequest({ ...good, addrs: ['a'.repeat(MAX_ADDR_CHARS + 1)] }), /addrs/);
  });
});

describe('parsePackPutRequest', () => {
  const good = { packId: HEX64, sizeBytes: 4096 };
  it('accepts a well-formed request up to the largest pack', () => {
    expect(parsePackPutRequest(good)).toEqual(good);
    expect(parsePackPutRequest({ ...good, sizeBytes: MAX_PACK_BYTES })).toEqual({ ...good, sizeBytes: MAX_PACK_BYTES });
  });
  it('refuses non-objects, wrong types, bad hex and oversize packs', () => {
    for (const v of NOT_OBJECTS) refused(() => parsePackPutRequest(v), /not an object/);
    refused(() => parsePackPutRequest({ packId: HEX64 }), /sizeBytes/);
    refused(() => parsePackPutRequest({ sizeBytes: 1 }), /packId/);
    for (const n of BAD_NUMBERS) refused(() => parsePackPutRequest({ ...good, sizeBytes: n }));
    for (const h of BAD_HEX64) refused(() => parsePackPutRequest({ ...good, packId: h }));
    refused(() => parsePackPutRequest({ ...good, sizeBytes: MAX_PACK_BYTES + 1 }), /exceeds/);
    refused(() => parsePackPutRequest({ ...good, sizeBytes: Number.MAX_SAFE_INTEGER }), /exceeds/);
  });
});

describe('parsePackGetRequest', () => {
  const good = { packId: HEX64 };
  it('accepts a whole-pack request and a byte range', () => {
    expect(parsePackGetRequest(good)).toEqual(good);
    expect(parsePackGetRequest({ ...good, offset: 0, length: MAX_PACK_BYTES })).toEqual({ ...good, offset: 0, length: MAX_PACK_BYTES });
  });
  it('refuses non-objects, wrong types, bad hex, half ranges and oversize ranges', () => {
    for (const v of NOT_OBJECTS) refused(() => parsePackGetRequest(v), /not an object/);
    for (const h of BAD_HEX64) refused(() => parsePackGetRequest({ packId: h }));
    for (const n of BAD_NUMBERS.filter((x) => x !== null)) {
      refused(() => parsePackGetRequest({ ...good, offset: n, length: 1 }));
      refused(() => parsePackGetRequest({ ...good, offset: 0, length: n }));
    }
    refused(() => parsePackGetRequest({ ...good, offset: 0 }), /go together/);
    refused(() => parsePackGetRequest({ ...good, length: 10 }), /go together/);
    refused(() => parsePackGetRequest({ ...good, offset: 0, length: MAX_PACK_BYTES + 1 }), /too long/);
    refused(() => parsePackGetRequest({ ...good, offset: MAX_PACK_BYTES, length: 1 }), /beyond any pack/);
    refused(() => parsePackGetRequest({ ...good, offset: Number.MAX_SAFE_INTEGER, length: 1 }), /beyond any pack/);
  });
});

describe('parsePackListRequest', () => {
  it('accepts an empty request and a 64-hex cursor', () => {
    expect(parsePackListRequest({})).toEqual({});
    expect(parsePackListRequest({ after: HEX64 })).toEqual({ after: HEX64 });
  });
  it('refuses non-objects and a bad cursor', () => {
    for (const v of NOT_OBJECTS) refused(() => parsePackListRequest(v), /not an object/);
    for (const h of BAD_HEX64) refused(() => parsePackListRequest({ after: h }));
  });
});

describe('parseGrantMessage', () => {
  it('accepts a grant, an ask with or without a note, and a refusal, up to the limits', () => {
    expect(parseGrantMessage({ op: 'grant', bytes: 0 })).toEqual({ op: 'grant', bytes: 0 });
    expect(parseGrantMessage({ op: 'ask', bytes: MAX_GRANT_BYTES, note: 'n'.repeat(MAX_ASK_NOTE_CHARS) })).toMatchObject({ op: 'ask' });
    expect(parseGrantMessage({ op: 'refuse', bytes: 5 })).toEqual({ op: 'refuse', bytes: 5 });
  });
  it('refuses other ops, sizes above MAX_GRANT_BYTES, long notes and notes outside an ask', () => {
    for (const v of NOT_OBJECTS) refused(() => parseGrantMessage(v), /not an object/);
    refused(() => parseGrantMessage({ op: 'take', bytes: 1 }), /op must be/);
    refused(() => parseGrantMessage({ op: 'grant', bytes: MAX_GRANT_BYTES + 1 }), /more than/);
    refused(() => parseGrantMessage({ op: 'grant', bytes: -1 }));
    refused(() => parseGrantMessage({ op: 'grant', bytes: 1.5 }));
    refused(() => parseGrantMessage({ op: 'ask', bytes: 1, note: 'n'.repeat(MAX_ASK_NOTE_CHARS + 1) }), /note/);
    refused(() => parseGrantMessage({ op: 'grant', bytes: 1, note: 'hi' }), /note/);
  });
});

function head(over: Partial<Record<keyof Head, unknown>> = {}): Record<string, unknown> {
  return {
    version: 1,
    repoId: 'r'.repeat(32),
    seq: 3,
    prev: HEX64,
    time: '2026-11-23T20:00:00.000Z',
    snapshots: [HEX64, 'ef'.repeat(32)],
    chunker: 'fastcdc',
    sealedFriends: 'AAAA',
    ...over,
  };
}

describe('parseSignedHead and parseHeadRequest', () => {
  const good = { head: head(), signature: 'c2ln' };
  it('accepts a signed head (prev may be null for seq 1) and get/put requests', () => {
    expect(parseSignedHead(good)).toEqual(good);
    expect(parseSignedHead({ ...good, head: head({ seq: 1, prev: null, snapshots: [] }) }).head.prev).toBeNull();
    expect(parseHeadRequest({ op: 'get' })).toEqual({ op: 'get' });
    expect(parseHeadRequest({ op: 'put', head: good })).toEqual({ op: 'put', head: good });
  });
  it('refuses a malformed envelope', () => {
    for (const v of NOT_OBJECTS) refused(() => parseSignedHead(v), /not an object/);
    for (const h of [null, 'x', 1]) refused(() => parseSignedHead({ ...good, head: h }));
    refused(() => parseSignedHead({ ...good, head: [head()] }), /not an object/);
    for (const s of [undefined, null, 1, ['x']]) refused(() => parseSignedHead({ ...good, signature: s }), /signature/);
  });
  it('refuses wrong field types, unknown versions, bad prev and bad snapshot IDs', () => {
    for (const key of ['repoId', 'seq', 'time', 'snapshots', 'chunker', 'sealedFriends'] as const) {
      const h = head();
      delete h[key];
      refused(() => parseSignedHead({ ...good, head: h }), new RegExp(key));
    }
    for (const n of BAD_NUMBERS) refused(() => parseSignedHead({ ...good, head: head({ seq: n }) }));
    for (const v of [0, 2, '1', undefined, null]) refused(() => parseSignedHead({ ...good, head: head({ version: v }) }), /version/);
    for (const p of [...BAD_HEX64.filter((x) => x !== null), undefined]) refused(() => parseSignedHead({ ...good, head: head({ prev: p }) }), /prev/);
    for (const s of BAD_HEX64) refused(() => parseSignedHead({ ...good, head: head({ snapshots: [HEX64, s] }) }), /snapshot/);
    refused(() => parseSignedHead({ ...good, head: head({ snapshots: HEX64 }) }), /snapshots/);
    for (const k of ['repoId', 'time', 'chunker', 'sealedFriends'] as const) refused(() => parseSignedHead({ ...good, head: head({ [k]: 1 }) }), new RegExp(k));
  });
  it('refuses unknown ops and a put without a valid head', () => {
    for (const v of NOT_OBJECTS) refused(() => parseHeadRequest(v), /not an object/);
    for (const op of ['GET', 'delete', '', 1, null]) refused(() => parseHeadRequest({ op }));
    refused(() => parseHeadRequest({ op: 'put' }), /not an object/);
    refused(() => parseHeadRequest({ op: 'put', head: { ...good, head: head({ seq: -1 }) } }), /seq/);
  });
});

describe('canonicalHead and isRefusal', () => {
  it('orders keys canonically whatever order the head arrived in', () => {
    const h = head() as unknown as Head;
    const shuffled = Object.fromEntries(Object.entries(h).reverse()) as unknown as Head;
    expect(canonicalHead(shuffled).equals(canonicalHead(h))).toBe(true);
    expect(Object.keys(JSON.parse(canonicalHead(shuffled).toString()) as object)).toEqual([
      'version',
      'repoId',
      'seq',
      'prev',
      'time',
      'snapshots',
      'chunker',
      'sealedFriends',
    ]);
    const signed: SignedHead = { head: h, signature: '' };
    expect(canonicalHead({ ...signed.head, seq: 4 }).equals(canonicalHead(h))).toBe(false);
  });
  it('recognises refusals only with ok === false and a string code', () => {
    expect(isRefusal({ ok: false, code: 'E_NOT_FRIEND', message: 'no' })).toBe(true);
    for (const v of [null, {}, { ok: false }, { ok: 0, code: 'E_X' }, { ok: true, code: 'E_X' }, { ok: false, code: 1 }, 'E_X'])
      expect(isRefusal(v)).toBe(false);
  });
});
