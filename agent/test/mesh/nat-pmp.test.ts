// The NAT-PMP client against a stub router on loopback (real UDP, port 5351), the classification of
// the router's internet address (a carrier's 100.64.0.0/10 is recognised as carrier-grade NAT), and
// which addresses of an mDNS answer LAN discovery dials.
import { createSocket, type Socket } from 'node:dgram';
import { multiaddr } from '@multiformats/multiaddr';
import { afterEach, describe, expect, test } from 'vitest';
import { lanDialAddrs, MAX_LAN_ADDRS } from '../../src/mesh/lan-discovery.js';
import { NAT_PMP_PORT, NAT_PMP_TRIES, NatPmpError, NatPmpNoAnswerError, pmpExternalAddress, pmpMapTcp } from '../../src/mesh/nat-pmp.js';
import { portMappingMessage, routerAddressState } from '../../src/mesh/port-mapping.js';

const GATEWAY = '127.0.0.1';
let stub: Socket | undefined;

/** A router on 127.0.0.1:5351 answering each request with `answer(request)` (null: silence). */
async function router(answer: (req: Buffer) => Buffer | null): Promise<{ requests: Buffer[] }> {
  const seen: Buffer[] = [];
  const s = createSocket('udp4');
  s.on('message', (msg, from) => {
    seen.push(msg);
    const reply = answer(msg);
    if (reply) s.send(reply, from.port, from.address);
  });
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(NAT_PMP_PORT, GATEWAY, () => resolve());
  });
  stub = s;
  return { requests: seen };
}

const externalReply = (ip: number[], result = 0) => Buffer.from([0, 128, result >> 8, result & 0xff, 0, 0, 0, 9, ...ip]);

afterEach(async () => {
  await new Promise<void>((r) => (stub ? stub.close(() => r()) : r()));
  stub = undefined;
});

describe('NAT-PMP client', () => {
  test("a router that reports a carrier's address: recognised as carrier-grade NAT, in plain words", async () => {
    await router((req) => (req[1] === 0 ? externalReply([100, 64, 0, 2]) : null));
    const ip = await pmpExternalAddress(GATEWAY, AbortSignal.timeout(5000));
    expect(ip).toBe('100.64.0.2');
    expect(routerAddressState(ip)).toBe('carrier-nat');
    expect(portMappingMessage('carrier-nat', { ip })).toBe(
      "behind carrier-grade NAT (the router's internet address 100.64.0.2 is the carrier's): reachable only through friends' relays",
    );
  });

  test('result 3 (the router has no external address) is a NatPmpError with that code', async () => {
    await router(() => externalReply([0, 0, 0, 0], 3));
    const err = await pmpExternalAddress(GATEWAY, AbortSignal.timeout(5000)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NatPmpError);
    expect((err as NatPmpError).result).toBe(3);
  });

  test('a silent router: the request is sent NAT_PMP_TRIES times, then NatPmpNoAnswerError; wrong answers are ignored', async () => {
    // answers with the wrong opcode (a mapping reply to an address request) count as silence
    const r = await router(() => Buffer.from([0, 130, 0, 0, 0, 0, 0, 9, 0x0f, 0xa1, 0x0f, 0xa1, 0, 0, 0x0e, 0x10]));
    const err = await pmpExternalAddress(GATEWAY, AbortSignal.timeout(10_000)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NatPmpNoAnswerError);
    expect(r.requests.length).toBe(NAT_PMP_TRIES);
  });

  test('a mapping: the request asks for the same external port and the lifetime; the reply gives the port the router chose', async () => {
    const r = await router((req) => {
      const reply = Buffer.alloc(16);
      reply[1] = 130;
      reply.writeUInt16BE(req.readUInt16BE(4), 8);
      reply.writeUInt16BE(40001, 10);
      reply.writeUInt32BE(req.readUInt32BE(8), 12);
      return reply;
    });
    expect(await pmpMapTcp(GATEWAY, 4001, 3600, AbortSignal.timeout(5000))).toEqual({ externalPort: 40001, lifetimeS: 3600 });
    const req = r.requests[0] as Buffer;
    expect([req[1], req.readUInt16BE(4), req.readUInt16BE(6), req.readUInt32BE(8)]).toEqual([2, 4001, 4001, 3600]);
  });
});

describe("the router's internet address", () => {
  test.each([
    ['25.200.0.100', 'public'],
    ['100.64.0.2', 'carrier-nat'],
    ['100.127.255.254', 'carrier-nat'],
    ['100.128.0.1', 'public'],
    ['10.0.0.2', 'double-nat'],
    ['172.16.5.1', 'double-nat'],
    ['192.168.0.1', 'double-nat'],
    ['0.0.0.0', 'no-public-address'],
    ['203.0.113.9', 'no-public-address'],
    [null, 'no-public-address'],
  ])('%s: %s', (ip, state) => {
    expect(routerAddressState(ip)).toBe(state);
  });
});

describe('LAN discovery dials only LAN TCP addresses, with the PeerId', () => {
  const id = '12D3KooWRBhwfeP2Y4TCx1SM6s9rUoHhR5STiGwxBhgFRcw3UERE';
  test('private and link-local IPv4 kept; public, loopback, carrier and non-TCP dropped; at most MAX_LAN_ADDRS', () => {
    const got = lanDialAddrs(
      [
        '/ip4/192.168.1.7/tcp/4001',
        '/ip4/169.254.3.4/tcp/4001',
        '/ip4/25.200.0.1/tcp/4001',
        '/ip4/127.0.0.1/tcp/4001',
        '/ip4/100.64.0.9/tcp/4001',
        '/ip4/10.1.1.1/udp/4001/quic-v1',
      ].map((a) => multiaddr(a)),
      id,
    );
    expect(got.map(String)).toEqual([`/ip4/192.168.1.7/tcp/4001/p2p/${id}`, `/ip4/169.254.3.4/tcp/4001/p2p/${id}`]);
    const many = Array.from({ length: 20 }, (_, i) => multiaddr(`/ip4/10.0.0.${i + 1}/tcp/4001`));
    expect(lanDialAddrs(many, id)).toHaveLength(MAX_LAN_ADDRS);
  });
});
