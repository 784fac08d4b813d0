// STUN Binding (RFC 5389), the one STUN exchange Cairn answers (SPEC 13.1): a friend's agent tells
// a friend behind NAT which address and port its UDP packets arrive from, so WebRTC can offer that
// address to the other side (a server-reflexive ICE candidate). Only Binding requests with the
// magic cookie are answered, with XOR-MAPPED-ADDRESS and FINGERPRINT; everything else is ignored.
import { crc32 } from 'node:zlib';

export const STUN_HEADER_BYTES = 20;
export const STUN_MAGIC_COOKIE = 0x2112a442;
/** Longest Binding request answered (a client's request carries a few small attributes at most). */
export const STUN_MAX_REQUEST_BYTES = 548;
/** Binding requests answered per source IP at once, then one per STUN_INTERVAL_MS (ICE sends a few per gathering). */
export const STUN_BURST = 20;
export const STUN_INTERVAL_MS = 500;
/** Source IPs whose allowance is remembered before full ones are forgotten. */
export const STUN_MAX_TRACKED_SOURCES = 256;

const BINDING_REQUEST = 0x0001;
const BINDING_SUCCESS = 0x0101;
const ATTR_XOR_MAPPED_ADDRESS = 0x0020;
const ATTR_FINGERPRINT = 0x8028;
const FINGERPRINT_XOR = 0x5354554e;

/** The transaction ID of a well-formed Binding request, or null for anything else. */
export function parseBindingRequest(msg: Buffer): Buffer | null {
  if (msg.length < STUN_HEADER_BYTES || msg.length > STUN_MAX_REQUEST_BYTES) return null;
  if (msg.readUInt16BE(0) !== BINDING_REQUEST) return null;
  const len = msg.readUInt16BE(2);
  if (len % 4 !== 0 || len !== msg.length - STUN_HEADER_BYTES) return null;
  if (msg.readUInt32BE(4) !== STUN_MAGIC_COOKIE) return null;
  return Buffer.from(msg.subarray(8, 20));
}

/** A Binding success response to `txId` saying the request came from `ip`:`port` (IPv4 or IPv6). */
export function bindingResponse(txId: Buffer, ip: string, port: number): Buffer {
  const v4 = !ip.includes(':');
  const addr = v4 ? Buffer.from(ip.split('.').map(Number)) : ipv6Bytes(ip);
  const xorKey = Buffer.alloc(16);
  xorKey.writeUInt32BE(STUN_MAGIC_COOKIE, 0);
  txId.copy(xorKey, 4);
  const xaddr = Buffer.from(addr.map((b, i) => b ^ (xorKey[i] as number)));
  const attr = Buffer.alloc(4 + 4 + addr.length);
  attr.writeUInt16BE(ATTR_XOR_MAPPED_ADDRESS, 0);
  attr.writeUInt16BE(4 + addr.length, 2);
  attr.writeUInt8(0, 4);
  attr.writeUInt8(v4 ? 0x01 : 0x02, 5);
  attr.writeUInt16BE(port ^ (STUN_MAGIC_COOKIE >>> 16), 6);
  xaddr.copy(attr, 8);
  const header = Buffer.alloc(STUN_HEADER_BYTES);
  header.writeUInt16BE(BINDING_SUCCESS, 0);
  // the length counts the fingerprint that follows (RFC 5389 15.5)
  header.writeUInt16BE(attr.length + 8, 2);
  header.writeUInt32BE(STUN_MAGIC_COOKIE, 4);
  txId.copy(header, 8);
  const body = Buffer.concat([header, attr]);
  const fp = Buffer.alloc(8);
  fp.writeUInt16BE(ATTR_FINGERPRINT, 0);
  fp.writeUInt16BE(4, 2);
  fp.writeUInt32BE((crc32(body) ^ FINGERPRINT_XOR) >>> 0, 4);
  return Buffer.concat([body, fp]);
}

/** The address and port in a Binding success response's XOR-MAPPED-ADDRESS (tests, and a client's view). */
export function parseBindingResponse(msg: Buffer): { ip: string; port: number } | null {
  if (msg.length < STUN_HEADER_BYTES || msg.readUInt16BE(0) !== BINDING_SUCCESS) return null;
  const end = Math.min(msg.length, STUN_HEADER_BYTES + msg.readUInt16BE(2));
  for (let at = STUN_HEADER_BYTES; at + 4 <= end;) {
    const type = msg.readUInt16BE(at);
    const len = msg.readUInt16BE(at + 2);
    if (type === ATTR_XOR_MAPPED_ADDRESS && len >= 8 && at + 4 + len <= end) {
      const family = msg.readUInt8(at + 5);
      const port = msg.readUInt16BE(at + 6) ^ (STUN_MAGIC_COOKIE >>> 16);
      const key = Buffer.alloc(16);
      key.writeUInt32BE(STUN_MAGIC_COOKIE, 0);
      msg.copy(key, 4, 8, 20);
      const n = family === 0x01 ? 4 : 16;
      const bytes = [...msg.subarray(at + 8, at + 8 + n)].map((b, i) => b ^ (key[i] as number));
      const ip =
        n === 4
          ? bytes.join('.')
          : bytes
              .map((b, i) => (i % 2 === 0 ? '' : ((bytes[i - 1] as number) * 256 + b).toString(16)))
              .filter(Boolean)
              .join(':');
      return { ip, port };
    }
    at += 4 + len + ((4 - (len % 4)) % 4);
  }
  return null;
}

function ipv6Bytes(ip: string): Buffer {
  const [head, tail] = ip.split('%')[0]!.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}
