// The upgrade of relayed connections (direct-upgrade.ts) against a stand-in for the libp2p node
// that records dials and answers them as told: the order of the ladder (TCP, then WebRTC over the
// relay the friend is connected through), the whole-attempt deadline with dials that never
// answer (small injected values), friends only, and one attempt per friend at a time. The WebRTC
// transport itself is exercised in namespaces (agent/test/nat/webrtc-trials.test.ts).
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Libp2p, PeerId } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { describe, expect, test } from 'vitest';
import { DirectUpgrade } from '../../src/mesh/direct-upgrade.js';

async function peer(): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'));
}

const RELAY = (await peer()).toString();

interface FakeConn {
  remotePeer: PeerId;
  remoteAddr: Multiaddr;
  status: 'open';
  direction: 'outbound';
}

/** A node connected to `friend` through a relay; `answer` decides what each dial does. */
function fakeNode(self: PeerId, friend: PeerId, stored: string[], answer: (addrs: string[], signal: AbortSignal) => Promise<'ok' | 'fail'>) {
  const conns: FakeConn[] = [
    { remotePeer: friend, remoteAddr: multiaddr(`/ip4/10.200.0.10/tcp/4001/p2p/${RELAY}/p2p-circuit/p2p/${friend}`), status: 'open', direction: 'outbound' },
  ];
  const dials: string[][] = [];
  const node = {
    peerId: self,
    addEventListener: () => undefined,
    removeEventListener: () => undefined,
    getConnections: (p?: PeerId) => (p === undefined ? conns : conns.filter((c) => c.remotePeer.equals(p))),
    peerStore: { get: async () => ({ addresses: stored.map((a) => ({ multiaddr: multiaddr(a) })) }) },
    dial: async (addrs: Multiaddr[], opts: { signal: AbortSignal }) => {
      const list = addrs.map(String);
      dials.push(list);
      if ((await answer(list, opts.signal)) === 'fail') throw new Error('no route');
      const c: FakeConn = { remotePeer: friend, remoteAddr: addrs[0] as Multiaddr, status: 'open', direction: 'outbound' };
      conns.push(c);
      return c;
    },
  } as unknown as Libp2p;
  return { node, dials };
}

/** A dial that answers only when aborted (a NAT that drops everything). */
const never = (_: string[], signal: AbortSignal) => new Promise<'fail'>((resolve) => signal.addEventListener('abort', () => resolve('fail'), { once: true }));

describe('direct upgrade of relayed connections', () => {
  test("TCP at the friend's direct addresses first, then WebRTC over the relay it is connected through; the link is WebRTC", async () => {
    const [self, friend] = await Promise.all([peer(), peer()]);
    // self < friend: no deferral
    const [lo, hi] = self.toString() < friend.toString() ? [self, friend] : [friend, self];
    const { node, dials } = fakeNode(lo, hi, ['/ip4/192.168.2.2/tcp/4001'], async (addrs) => (addrs[0]!.includes('/webrtc') ? 'ok' : 'fail'));
    const up = new DirectUpgrade(node, () => true, { deferMs: 0 });
    await up.start();
    expect(await up.upgrade(hi)).toBe('webrtc');
    expect(dials).toEqual([[`/ip4/192.168.2.2/tcp/4001/p2p/${hi}`], [`/ip4/10.200.0.10/tcp/4001/p2p/${RELAY}/p2p-circuit/webrtc/p2p/${hi}`]]);
    await up.stop();
  });

  test('an attempt whose dials never answer ends by the whole-attempt deadline (injected: 300 ms, each dial allowed 10 s), still relayed', async () => {
    const [a, b] = await Promise.all([peer(), peer()]);
    const { node, dials } = fakeNode(a, b, ['/ip4/192.168.2.2/tcp/4001', `/ip4/10.200.0.11/tcp/4001/p2p/${RELAY}/p2p-circuit/webrtc`], never);
    const up = new DirectUpgrade(node, () => true, { deferMs: 0, tcpTimeoutMs: 10_000, webrtcTimeoutMs: 10_000, attemptMs: 300 });
    await up.start();
    expect(await up.upgrade(b)).toBe('relayed');
    expect(dials.length).toBe(1);
    await up.stop();
  }, 5_000);

  test('a peer that is not a friend is never dialled when it is identified; one attempt per friend at a time', async () => {
    const [a, b] = await Promise.all([peer(), peer()]);
    let release: () => void = () => undefined;
    const held = new Promise<'fail'>((r) => (release = () => r('fail')));
    const { node, dials } = fakeNode(a, b, [], () => held);
    const listeners: Array<(e: CustomEvent) => void> = [];
    (node as unknown as { addEventListener: (t: string, f: (e: CustomEvent) => void) => void }).addEventListener = (_t, f) => listeners.push(f);
    const up = new DirectUpgrade(node, () => false, { deferMs: 0 });
    await up.start();
    for (const f of listeners) f(new CustomEvent('peer:identify', { detail: { peerId: b } }));
    await new Promise((r) => setTimeout(r, 50));
    expect(dials).toEqual([]);
    const friendly = new DirectUpgrade(node, () => true, { deferMs: 0 });
    await friendly.start();
    const first = friendly.upgrade(b);
    const second = friendly.upgrade(b);
    expect(second).toBe(first);
    await new Promise((r) => setTimeout(r, 50));
    release();
    expect(await first).toBe('relayed');
    expect(dials.length).toBe(1);
    await up.stop();
    await friendly.stop();
  });
});
