// Announced addresses (cairn agent --announce, cairn.yaml announce): a host behind a router tells
// friends its public address or DNS name besides the addresses on its interfaces. Real agents as
// separate processes: the invite code carries the announced address next to the interface one,
// pairing still works over the interface address, the friend records the announced address for
// later dials (identify), the setting from cairn.yaml applies, and a malformed flag is refused.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { decodeInvite } from '../../../protocol/invite.js';
import type { PeerListing } from '../../../protocol/api.js';
import { startAgent, type TestAgent } from '../helpers/agents.js';
import { cairn, cairnJson, tempDir } from '../helpers/cli.js';

const ANNOUNCED = '/ip4/203.0.113.7/tcp/4999';
const agents: TestAgent[] = [];

afterAll(async () => {
  for (const a of agents) await a.stop();
});

describe('announced addresses', () => {
  test('--announce: the invite carries it next to the interface address; the friend pairs and keeps it', async () => {
    const alice = await startAgent('alice', { extraArgs: ['--announce', ANNOUNCED] });
    agents.push(alice);
    const bob = await startAgent('bob');
    agents.push(bob);
    const { code } = await alice.cli<{ code: string }>(['invite', '--quota', '1G']);
    const addrs = decodeInvite(code).addrs;
    expect(addrs).toContain(ANNOUNCED);
    expect(addrs.some((a) => a.startsWith('/ip4/127.0.0.1/tcp/'))).toBe(true);
    await bob.cli(['pair', code, '--quota', '1G']);
    // bob learns alice's addresses from the invite and again from identify: the announced one stays
    let seen: string[] = [];
    for (let i = 0; i < 50 && !seen.includes(ANNOUNCED); i++) {
      seen = (await bob.cli<PeerListing[]>(['peers'])).find((p) => p.name === 'alice')?.addresses ?? [];
      if (!seen.includes(ANNOUNCED)) await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen).toContain(ANNOUNCED);
  }, 120_000);

  test('cairn.yaml announce applies; a malformed --announce or an overlong --name is a usage error', async () => {
    const home = join(await tempDir('cairn-announce-'), 'home');
    await cairnJson(['init'], { home });
    await writeFile(join(home, 'cairn.yaml'), 'announce:\n  - /dns4/nas.example.org/tcp/4001\n');
    const carol = await startAgent('carol', { home, existing: { recoveryPhrase: '' } });
    agents.push(carol);
    const { code } = await carol.cli<{ code: string }>(['invite']);
    expect(decodeInvite(code).addrs).toContain('/dns4/nas.example.org/tcp/4001');

    const bad = await cairn(['agent', '--announce', '203.0.113.7:4001', '--api', '127.0.0.1:0'], { home: join(await tempDir('cairn-announce-bad-'), 'home') });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--announce 203\.0\.113\.7:4001: expected a TCP multiaddr/);
    // a name friends could not be sent (pairing limits names to 64 characters) is refused up front too
    const long = await cairn(['agent', '--name', 'n'.repeat(65), '--api', '127.0.0.1:0'], { home: join(await tempDir('cairn-name-bad-'), 'home') });
    expect(long.code).toBe(2);
    expect(long.stderr.trim()).toMatch(/^.*--name: expected one line of 1 to 64 characters \(friends see it\), got 65$/);
  }, 120_000);
});
