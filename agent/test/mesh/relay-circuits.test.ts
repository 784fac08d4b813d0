// Relayed streams read only as fast as the other end takes them (relay-circuits.ts), with real
// libp2p nodes on loopback. Two friends of a relay can collude against it: bob stops reading his
// end of the relayed connection (the relay's STOP stream to him), and alice writes into hers (her
// HOP stream to the relay) as fast as it takes bytes, whatever the connection inside says. The
// relay's pipe (@libp2p/circuit-relay-v2 4.2) queues whatever it reads from alice's stream; if that
// stream went on granting alice window, the relay would take everything and hold it in memory.
// Held back, alice's stream stops after a few windows. Relies on yamux holding back window updates
// while a stream is paused, and on the relay server's handleConnect/stopHop (relay-circuits.ts).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Libp2p, PeerId, Stream } from '@libp2p/interface';
import { afterEach, describe, expect, it } from 'vitest';
import { echo, trio } from '../helpers/relay-trio.js';

const MIB = 1024 * 1024;
const CHUNK = 64 * 1024;
const HOP = '/libp2p/circuit/relay/0.2.0/hop';
const STOP = '/libp2p/circuit/relay/0.2.0/stop';

/** The stream of `protocol` on `node`'s connection to `peer` (the outer streams of a relayed connection). */
function outerStream(node: Libp2p, peer: PeerId, protocol: string): Stream {
  const s = node
    .getConnections(peer)
    .flatMap((c) => c.streams)
    .find((x) => x.protocol === protocol);
  if (!s) throw new Error(`no ${protocol} stream to ${peer.toString()}`);
  return s;
}

describe('relayed streams', () => {
  let stop: (() => Promise<unknown>) | undefined;
  afterEach(async () => {
    await stop?.();
    stop = undefined;
  });

  it('a destination that does not read holds the source back: the relay takes a few windows of what the source writes, not everything', async () => {
    const t = await trio({ bytesPerSec: 0, bytesPerDay: 0 });
    stop = t.stop;
    // the relayed connection is up
    expect(Buffer.from(await echo(t.alice, t.circuit, Buffer.from('hello'))).toString()).toBe('hello');
    outerStream(t.bob, t.relay.peerId, STOP).pause(); // bob reads nothing more from the relay
    const hop = outerStream(t.alice, t.relay.peerId, HOP);
    const total = 32 * MIB;
    const junk = Buffer.alloc(CHUNK, 7);
    // alice's own stream takes it all into its buffer (a hostile sender would too); what counts is
    // what the relay reads from her: its budget counts every byte it reads, both streams
    for (let sent = 0; sent < total; sent += CHUNK) hop.send(junk);
    const taken = () => t.budget.count(t.alice.peerId.toString()).totalBytes;
    // wait until alice's buffer stops going down for 2 s (the relay takes no more) or is empty
    let left = hop.writeBufferLength;
    for (let still = 0; still < 4 && left > 0;) {
      await sleep(500);
      still = hop.writeBufferLength < left ? 0 : still + 1;
      left = hop.writeBufferLength;
    }
    // a few windows' worth (256 KiB each at the start, at most 4 MiB as yamux grows them) is in the
    // relay and on the way; not the 32 MiB
    expect(taken()).toBeGreaterThan(0);
    expect(taken()).toBeLessThan(8 * MIB);
    hop.abort(new Error('done'));
  }, 120_000);
});
