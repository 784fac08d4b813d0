// The upgrade of relayed connections (direct-upgrade.ts) against a stand-in for the libp2p node
// that records dials and answers them as told: the order of the ladder (TCP, then WebRTC over the
// relay the friend is connected through), the whole-attempt deadline with dials that never
// answer (small injected values), friends only, and one attempt per friend at a time; the backoff
// of a friend whose attempts keep failing (an injected clock), reset by a success or by the friend's
// addresses changing. The WebRTC
// transport itself is exercised in namespaces (agent/test/nat/webrtc-trials.test.ts).
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Libp2p, PeerId } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { describe, expect, test } from 'vitest';
import { DirectUpgrade, UPGRADE_RETRY_MS } from '../../src/mesh/direct-upgrade.js';

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
  return { node, dials, conns, stored };
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

  test('a friend whose attempts keep failing (both behind CGNAT) waits twice as long after each, up to the cap; its addresses changing or a success start over', async () => {
    const [a, b] = await Promise.all([peer(), peer()]);
    let punch: 'ok' | 'fail' = 'fail';
    const { node, dials, conns, stored } = fakeNode(a, b, ['/ip4/100.64.0.2/tcp/4001'], async (addrs) => (addrs[0]!.includes('/webrtc') ? punch : 'fail'));
    const clock = { t: 1_000_000 };
    const R = UPGRADE_RETRY_MS;
    // the interval never fires on its own here: each tick is retryAll at the injected time
    let friendly = true;
    const up = new DirectUpgrade(node, () => friendly, { deferMs: 0, retryMs: R, backoffMaxMs: 4 * R, now: () => clock.t });
    await up.start();
    const attempts = () => dials.filter((d) => d[0]!.includes('/tcp/4001/p2p/') && !d[0]!.includes('p2p-circuit')).length;
    /** Ticks of the retry interval, each R later: at which of them an attempt was made. */
    const ticks = async (n: number): Promise<number[]> => {
      const out: number[] = [];
      for (let i = 1; i <= n; i++) {
        clock.t += R;
        const before = attempts();
        await up.retryAll();
        if (attempts() > before) out.push(i);
      }
      return out;
    };
    await up.retryAll();
    expect(attempts()).toBe(1);
    expect(up.failuresOf(b.toString())).toBe(1);
    // waits R, 2R, 4R, then the cap 4R: attempts at ticks 1, 3, 7, 11, 15
    expect(await ticks(15)).toEqual([1, 3, 7, 11, 15]);
    expect(up.failuresOf(b.toString())).toBe(6);
    // the friend's addresses change (a new relay, a new public address): tried at the next tick
    clock.t += R;
    stored.push(`/ip4/10.200.0.12/tcp/4001/p2p/${RELAY}/p2p-circuit`);
    const before = attempts();
    await up.retryAll();
    expect(attempts()).toBe(before + 1);
    expect(up.failuresOf(b.toString())).toBe(1);
    // a success forgets the failures: when the friend is relayed again, it is tried at once
    expect(await ticks(1)).toEqual([1]);
    punch = 'ok';
    clock.t += 2 * R;
    await up.retryAll();
    expect(up.failuresOf(b.toString())).toBe(0);
    conns.splice(1); // the WebRTC connection closes: relayed only again
    punch = 'fail';
    expect(await ticks(1)).toEqual([1]);
    expect(up.failuresOf(b.toString())).toBe(1);
    // kept for friends only: a friend removed is forgotten
    friendly = false;
    await up.retryAll();
    expect(up.failuresOf(b.toString())).toBe(0);
    await up.stop();
  });
});
