// Issue 18 must-hold 2 with whole agents (`cairn agent` from dist/) on the NAT lab: a public friend
// and two homes behind easy NATs. The NATed agents pair with the public one, hold reservations on
// its relay, then pair with each other by invite text through it; their relayed connection is
// upgraded to WebRTC (STUN answered by the public agent, signalling over its relay). Then one backs
// up, replicates to the other, loses its packs and restores from it: identical bytes, and what
// crossed the relay meanwhile (TCP bytes arriving at the relay's port, counted by nftables) stays
// under 1 MiB although the packs are 6 MiB. The 20 connection trials of must-hold 2 run at node level
// (webrtc-trials.test.ts): 20 agent pairings would take too long for `npm test`.
// Relies on @libp2p/webrtc 6.0 (signalling over an existing relayed connection, `/webrtc` advertised
// on relayed addresses) and libp2p 3.3 opening new streams on a direct connection before a relayed one.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { PeerListing } from '../../../protocol/api.js';
import type { StatusResult } from '../../../protocol/console-api.js';
import { decodeInvite } from '../../../protocol/invite.js';
import { labRoundTrip, labSourceTree } from '../helpers/lab-checks.js';
import { RelayByteCounter } from '../helpers/natlab-mesh-node.js';
import { LAB_P2P_PORT, startLabAgent, stopLabAgents, type LabAgent } from '../helpers/natlab-agents.js';
import { describeNatLab, NatLab } from '../helpers/natlab.js';

const POLLS = 90;
const POLL_MS = 1_000;
const MAX_RELAYED_BYTES = 1024 * 1024;

async function until<T>(what: string, fn: () => Promise<T | undefined>, log: () => string): Promise<T> {
  for (let i = 0; i < POLLS; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await sleep(POLL_MS);
  }
  throw new Error(`${what} did not happen within ${(POLLS * POLL_MS) / 1000} s\n${log().slice(-4000)}`);
}

async function friend(a: LabAgent, name: string): Promise<PeerListing | undefined> {
  return (await a.cli<PeerListing[]>(['peers'])).find((p) => p.name === name);
}

describeNatLab('direct when possible: two agents behind easy NATs move from the relay to WebRTC and back up over it', () => {
  let lab: NatLab;
  let pub: LabAgent;
  let alice: LabAgent;
  let bob: LabAgent;
  const agents: LabAgent[] = [];

  beforeAll(async () => {
    lab = await NatLab.create({
      homes: [
        { name: 'a', nat: 'easy' },
        { name: 'b', nat: 'easy' },
      ],
      publicHosts: ['pub'],
    });
    [pub, alice, bob] = await Promise.all([startLabAgent(lab, 'pub', 'pub'), startLabAgent(lab, 'a', 'alice'), startLabAgent(lab, 'b', 'bob')]);
    agents.push(pub, alice, bob);
    // pub offers little space: the NATed agents' packs go to each other
    for (const joiner of [alice, bob]) {
      const { code } = await pub.cli<{ code: string }>(['invite', '--quota', '1M']);
      await joiner.cli(['pair', code, '--quota', '1G']);
    }
  }, 300_000);

  afterAll(async () => {
    await stopLabAgents(agents);
    await lab?.destroy();
  });

  test('paired by invite text through the relay, the pair ends on WebRTC; backup, replicate, restore from the NATed friend: identical bytes, under 1 MiB through the relay', async () => {
    for (const a of [alice, bob])
      await until(
        `${a.name} holding a reservation on pub`,
        async () => ((JSON.parse((await a.cairn(['status', '--json'])).stdout) as StatusResult).reachability?.relays.includes('pub') ? true : undefined),
        a.log,
      );
    const { code } = await bob.cli<{ code: string }>(['invite', '--quota', '1G']);
    const relayed = `/ip4/${lab.addressOf('pub')}/tcp/${LAB_P2P_PORT}/p2p/${pub.info.peerId}/p2p-circuit`;
    expect(decodeInvite(code).addrs).toContain(relayed);
    expect(decodeInvite(code).addrs).toContain(`${relayed}/webrtc`);
    await alice.cli(['pair', code, '--quota', '1G']);
    const bobAtAlice = await until(
      'alice reaching bob over WebRTC',
      async () => ((await friend(alice, 'bob'))?.reach === 'webrtc' ? friend(alice, 'bob') : undefined),
      alice.log,
    );
    expect(bobAtAlice).toMatchObject({ online: true, reach: 'webrtc', via: null });
    expect((await alice.cairn(['peers'])).stdout).toMatch(/bob\s+yes\s+WebRTC/);
    await until('bob reaching alice over WebRTC', async () => ((await friend(bob, 'alice'))?.reach === 'webrtc' ? true : undefined), bob.log);

    const counter = await RelayByteCounter.install(lab, 'pub', LAB_P2P_PORT);
    const before = await counter.bytes();
    const src = await labSourceTree('webrtc');
    await labRoundTrip(alice, bob, src, 'webrtc');
    const relayedBytes = (await counter.bytes()) - before;
    expect(relayedBytes, `bytes that reached the relay's port during backup, replication and restore`).toBeLessThanOrEqual(MAX_RELAYED_BYTES);
    expect(await friend(alice, 'bob')).toMatchObject({ reach: 'webrtc' });
    await rm(join(src, '..'), { recursive: true, force: true });
  }, 300_000);
});
