// The STUN responder friends' agents run (stun-server.ts, protocol/stun.ts), on loopback with real
// UDP sockets: a Binding request from a friend's IP gets the address and port it came from; other
// messages, other IPs and requests past the rate limit get nothing. And the ICE servers the WebRTC
// transport is given (webrtc.ts): never absent, so @libp2p/webrtc never falls back to its public
// STUN servers (its getRtcConfiguration fills them in only when iceServers is undefined).
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import type { Libp2p } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { afterEach, describe, expect, test } from 'vitest';
import { bindingResponse, parseBindingRequest, parseBindingResponse, STUN_MAGIC_COOKIE } from '../../../protocol/stun.js';
import { StunResponder } from '../../src/mesh/stun-server.js';
import { systemClock } from '../../src/util/clock.js';
import { rtcConfiguration, stunServers } from '../../src/mesh/webrtc.js';

function bindingRequest(txId = randomBytes(12), type = 0x0001, cookie = STUN_MAGIC_COOKIE): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt16BE(type, 0);
  b.writeUInt16BE(0, 2);
  b.writeUInt32BE(cookie, 4);
  txId.copy(b, 8);
  return b;
}

/** Sends `msg` from a fresh socket; the answer, or null within `waitMs`. */
async function ask(port: number, msg: Buffer, waitMs = 500): Promise<{ answer: Buffer | null; local: number }> {
  const s: Socket = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const local = s.address().port;
  const answer = await new Promise<Buffer | null>((resolve) => {
    const t = setTimeout(() => resolve(null), waitMs);
    s.once('message', (m) => {
      clearTimeout(t);
      resolve(m);
    });
    s.send(msg, port, '127.0.0.1');
  });
  s.close();
  return { answer, local };
}

describe('STUN responder', () => {
  let responder: StunResponder | undefined;
  afterEach(async () => {
    await responder?.stop();
    responder = undefined;
  });

  async function start(allow: (ip: string) => boolean, burst?: number): Promise<number> {
    responder = new StunResponder({
      endpoints: () => [{ host: '127.0.0.1', port: 0, family: 4 }],
      allow,
      clock: systemClock,
      ...(burst !== undefined ? { burst, intervalMs: 60_000 } : {}),
    });
    await responder.start();
    return responder.ports()[0] as number;
  }

  test('a friend gets the address and port its request came from (XOR-MAPPED-ADDRESS), with the transaction ID and a valid fingerprint', async () => {
    const port = await start(() => true);
    const txId = randomBytes(12);
    const { answer, local } = await ask(port, bindingRequest(txId));
    expect(answer).not.toBeNull();
    expect(answer!.subarray(8, 20).equals(txId)).toBe(true);
    expect(parseBindingResponse(answer!)).toEqual({ ip: '127.0.0.1', port: local });
    // FINGERPRINT: CRC-32 of what precedes it, XOR 0x5354554e (RFC 5389 15.5)
    const { crc32 } = await import('node:zlib');
    const body = answer!.subarray(0, answer!.length - 8);
    expect(answer!.readUInt16BE(answer!.length - 8)).toBe(0x8028);
    expect(answer!.readUInt32BE(answer!.length - 4)).toBe((crc32(body) ^ 0x5354554e) >>> 0);
  });

  test('IPv6 addresses are encoded with the transaction ID in the XOR key', () => {
    const txId = randomBytes(12);
    expect(parseBindingResponse(bindingResponse(txId, '2001:db8::1', 4001))).toEqual({ ip: '2001:db8:0:0:0:0:0:1', port: 4001 });
  });

  test('only Binding requests with the magic cookie and a consistent length are answered', async () => {
    const port = await start(() => true);
    expect((await ask(port, bindingRequest(randomBytes(12), 0x0003))).answer).toBeNull(); // Allocate (TURN)
    expect((await ask(port, bindingRequest(randomBytes(12), 0x0001, 0))).answer).toBeNull(); // RFC 3489, no cookie
    const badLength = bindingRequest();
    badLength.writeUInt16BE(8, 2);
    expect((await ask(port, badLength)).answer).toBeNull();
    expect((await ask(port, Buffer.alloc(600))).answer).toBeNull();
    expect(parseBindingRequest(Buffer.from('hello'))).toBeNull();
    expect(responder!.answered).toBe(0);
    expect(responder!.ignored).toBe(4);
  });

  test('requests from an IP that is not a friend’s are not answered', async () => {
    const port = await start(() => false);
    expect((await ask(port, bindingRequest())).answer).toBeNull();
  });

  test('at most `burst` requests per source IP are answered at once', async () => {
    const port = await start(() => true, 3);
    const got: boolean[] = [];
    for (let i = 0; i < 5; i++) got.push((await ask(port, bindingRequest())).answer !== null);
    expect(got).toEqual([true, true, true, false, false]);
  });
});

describe('ICE servers for WebRTC', () => {
  const nodeWith = (conns: Array<{ peer: string; addr: string; direction: 'inbound' | 'outbound' }>) =>
    ({
      getConnections: () =>
        conns.map((c) => ({
          status: 'open',
          direction: c.direction,
          remotePeer: { toString: () => c.peer },
          remoteAddr: multiaddr(c.addr),
        })),
    }) as unknown as Libp2p;

  test('with no STUN configured and no friend reached directly, ICE gets an empty list, not libp2p’s public defaults', () => {
    const cfg = rtcConfiguration(() => nodeWith([]), { configured: [], isFriend: () => true })();
    expect(cfg.iceServers).toEqual([]);
  });

  test('a friend we dialled at a direct address answers STUN there; strangers, inbound and relayed connections do not count', () => {
    const node = nodeWith([
      { peer: 'stranger', addr: '/ip4/10.200.0.20/tcp/4001/p2p/stranger', direction: 'outbound' },
      { peer: 'inbound', addr: '/ip4/10.200.0.30/tcp/4001/p2p/inbound', direction: 'inbound' },
      { peer: 'relayed', addr: '/ip4/10.200.0.40/tcp/4001/p2p/R/p2p-circuit/p2p/relayed', direction: 'outbound' },
      { peer: 'pub', addr: '/ip4/10.200.0.10/tcp/4001/p2p/pub', direction: 'outbound' },
    ]);
    expect(stunServers(node, { configured: [], isFriend: (id) => id !== 'stranger' })).toEqual(['stun:10.200.0.10:4001']);
  });

  test('a configured STUN server comes first, and only one is given (libdatachannel picks one of several at random)', () => {
    const node = nodeWith([{ peer: 'pub', addr: '/ip4/10.200.0.10/tcp/4001/p2p/pub', direction: 'outbound' }]);
    expect(stunServers(node, { configured: ['stun:stun.example.org:3478', 'stun:other:3478'], isFriend: () => true })).toEqual(['stun:stun.example.org:3478']);
  });
});
