// Reachability between real agents on loopback (/cairn/reach/1.0.0, SPEC 13.1): once paired, each
// asks the other to dial it back and is confirmed public by it; neither holds a relay reservation,
// and each reaches the other directly. (The NAT lab, test/nat/relay.test.ts, has the NATed cases.)
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, test } from 'vitest';
import type { PeerListing } from '../../../protocol/api.js';
import type { StatusResult } from '../../../protocol/console-api.js';
import { pairAgents, startAgent, type TestAgent } from '../helpers/agents.js';
import { cairn } from '../helpers/cli.js';

const agents: TestAgent[] = [];

afterAll(async () => {
  for (const a of agents) await a.stop();
});

async function reachability(a: TestAgent): Promise<StatusResult['reachability']> {
  const r = await cairn(['status', '--json'], { home: a.home });
  return (JSON.parse(r.stdout) as StatusResult).reachability;
}

describe('reachability among friends', () => {
  test('paired agents dial each other back: both public, confirmed by the other, reached directly, no relay held', async () => {
    const [alice, bob] = await Promise.all([startAgent('alice'), startAgent('bob')]);
    agents.push(alice, bob);
    expect(await reachability(alice)).toEqual({
      state: 'unreachable',
      confirmed: [],
      confirmedBy: [],
      relays: [],
      summary:
        'unreachable: no friend reached this host directly and none relays for it (behind NAT or CGNAT with no reachable friend: pair with a `cairn relay` on a public server)',
    });
    await pairAgents(alice, bob);
    for (const [me, them] of [
      [alice, bob],
      [bob, alice],
    ] as const) {
      let r = await reachability(me);
      for (let i = 0; i < 60 && r?.state !== 'public'; i++) {
        await sleep(500);
        r = await reachability(me);
      }
      const addr = me.info.addrs[0]?.replace(/\/p2p\/[^/]+$/, '');
      expect(r).toEqual({
        state: 'public',
        confirmed: [addr],
        confirmedBy: [them.name],
        relays: [],
        summary: `public: friends reach this host directly (confirmed by ${them.name})`,
      });
      // and why, in a sentence: whichever side opened the connection, the other answered at its direct address
      expect((await me.cli<PeerListing[]>(['peers']))[0]).toMatchObject({
        name: them.name,
        reach: 'direct',
        via: null,
        reachWhy: expect.stringMatching(/^(it answers at its direct address|it dialled our direct address)$/),
      });
      // cairn status says the same for each friend
      const st = await cairn(['status'], { home: me.home });
      expect(st.stdout).toMatch(new RegExp(`^friend ${them.name}: direct \\((it answers at its direct address|it dialled our direct address)\\)$`, 'm'));
    }
  }, 120_000);
});
