// Hostile frames for every mesh protocol: requests of the right shape with fields swapped for
// hostile values (wrong types, huge or negative numbers, long or control-character strings, deep
// nesting, prototype keys), random bytes, invalid UTF-8, empty frames, length prefixes over the
// limit or cut short, and several frames where one is expected. Pure: the caller writes the bytes.
import { MAX_FRAME_BYTES, PROTOCOLS } from '../../protocol/mesh.js';

export type Rand = () => number;

const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
const hex = (r: Rand, n: number) => Array.from({ length: n }, () => '0123456789abcdef'[Math.floor(r() * 16)]).join('');

/** Unsigned varint (LEB128), as the mesh's length prefixes. */
export function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Buffer.from(out);
}

function hostileValue(r: Rand, depth = 0): unknown {
  const k = Math.floor(r() * 22);
  switch (k) {
    case 0:
      return -1;
    case 1:
      return 2 ** 53;
    case 2:
      return 1e308;
    case 3:
      return 0.5;
    case 4:
      return '';
    case 5:
      return depth === 0 ? 'x'.repeat(Math.floor(r() * 70_000)) : 'x'.repeat(100);
    case 6:
      return '\u001b[2J\u001b[31mevil\u202e\u0000\r\nline';
    case 7:
      return {};
    case 8:
      return [];
    case 9:
      return null;
    case 10:
      return true;
    case 11:
      return depth === 0
        ? Array.from({ length: Math.floor(r() * 2000) }, () => hostileValue(r, depth + 1))
        : (JSON.parse('['.repeat(400) + ']'.repeat(400)) as unknown);
    case 12:
      return JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}}') as unknown;
    case 13:
      return hex(r, 64);
    case 14:
      return hex(r, 63) + 'G';
    case 15:
      return '../../../../etc/passwd';
    case 16:
      return Number.MAX_SAFE_INTEGER;
    case 17:
      return 'A'.repeat(64);
    case 18:
      return Math.floor(r() * 100_000_000);
    case 19:
      return { op: 'put', head: { head: {}, signature: '' } };
    case 20:
      return '\ud800';
    default:
      return hex(r, 32);
  }
}

/** A well-formed request of each protocol, the starting point of the mutations. */
function template(protocol: string, r: Rand): Record<string, unknown> {
  switch (protocol) {
    case PROTOCOLS.pair:
      return { inviteId: hex(r, 32), proof: hex(r, 64), name: 'fuzz', grantBytes: 1024, addrs: ['/ip4/127.0.0.1/tcp/1'] };
    case PROTOCOLS.packPut:
      return { packId: hex(r, 64), sizeBytes: Math.floor(r() * 4096) };
    case PROTOCOLS.packGet:
      return { packId: hex(r, 64), offset: 0, length: 16 };
    case PROTOCOLS.packList:
      return r() < 0.5 ? {} : { after: hex(r, 64) };
    case PROTOCOLS.head:
      return r() < 0.5
        ? { op: 'get' }
        : {
            op: 'put',
            head: {
              head: { version: 1, repoId: hex(r, 64), seq: 1, prev: null, time: new Date(0).toISOString(), snapshots: [], chunker: 'x', sealedFriends: '' },
              signature: 'AA==',
            },
          };
    case PROTOCOLS.packDelete:
      return { request: { version: 1, owner: 'x', seq: 1, time: new Date(0).toISOString(), packs: [hex(r, 64)] }, signature: 'AA==' };
    default:
      return {};
  }
}

function mutateObject(o: Record<string, unknown>, r: Rand, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = { ...o };
  const keys = Object.keys(out);
  const n = 1 + Math.floor(r() * 3);
  for (let i = 0; i < n; i++) {
    const what = r();
    if (keys.length > 0 && what < 0.6) {
      const key = pick(r, keys);
      const v = out[key];
      out[key] =
        v !== null && typeof v === 'object' && !Array.isArray(v) && depth < 2 && r() < 0.5
          ? mutateObject(v as Record<string, unknown>, r, depth + 1)
          : hostileValue(r);
    } else if (keys.length > 0 && what < 0.8) {
      delete out[pick(r, keys)];
    } else {
      out[pick(r, ['extra', '__proto__', 'constructor', 'ok', 'code', 'toString'])] = hostileValue(r);
    }
  }
  return out;
}

/** The raw byte chunks of one hostile exchange on `protocol`, and how many frames they hold. */
export function hostileExchange(protocol: string, r: Rand): { chunks: Buffer[]; frames: number } {
  const frame = (b: Buffer) => Buffer.concat([varint(b.length), b]);
  const kind = r();
  if (kind < 0.55) {
    const body = Buffer.from(JSON.stringify(mutateObject(template(protocol, r), r)) ?? 'null');
    if (body.length > MAX_FRAME_BYTES) return { chunks: [varint(body.length), body.subarray(0, 1024)], frames: 1 };
    return { chunks: [frame(body)], frames: 1 };
  }
  if (kind < 0.65) return { chunks: [frame(Buffer.from(Array.from({ length: Math.floor(r() * 4096) }, () => Math.floor(r() * 256))))], frames: 1 };
  if (kind < 0.7) return { chunks: [frame(Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0x7b, 0x22]))], frames: 1 };
  if (kind < 0.75) return { chunks: [frame(Buffer.alloc(0))], frames: 1 };
  if (kind < 0.8) return { chunks: [varint(MAX_FRAME_BYTES + 1 + Math.floor(r() * 2 ** 31)), Buffer.alloc(1024, 0x41)], frames: 1 };
  if (kind < 0.85) return { chunks: [Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])], frames: 1 };
  if (kind < 0.9) return { chunks: [varint(5000), Buffer.alloc(10, 0x7b)], frames: 1 };
  const n = 2 + Math.floor(r() * 8);
  const chunks = Array.from({ length: n }, () => frame(Buffer.from(JSON.stringify(mutateObject(template(protocol, r), r)).slice(0, 100_000))));
  return { chunks, frames: n };
}

/** Every mesh protocol a friend or stranger can open. */
export const MESH_PROTOCOLS: readonly string[] = Object.values(PROTOCOLS);
