// The 3-2-1 state rules (SPEC 13.11) on their own: not off-site, at risk for missing copies (with
// the next step naming its cause), at risk when no copy was proved within the audit period (a young
// source has until then), protected otherwise.
import { describe, expect, test } from 'vitest';
import type { PeerListing } from '../../../protocol/api.js';
import { sourceProtection, type ProtectionInput } from '../../src/ops/protection.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-06-01T00:00:00Z');

function peer(name: string, over: Partial<PeerListing> = {}): PeerListing {
  return {
    name,
    peerId: `peer-${name}`,
    addresses: [],
    online: true,
    lastSeen: '2026-05-31T23:00:00.000Z',
    storedForPeerBytes: 0,
    grantToPeer: 0,
    storedAtPeerBytes: 0,
    grantFromPeer: 1024 ** 3,
    packsAtPeer: 0,
    health: 'ok',
    shortfall: null,
    problems: [],
    reach: 'direct',
    via: null,
    reachWhy: 'it answers at its direct address',
    relayedForPeer: { todayBytes: 0, totalBytes: 0 },
    ...over,
  };
}

function input(over: Partial<ProtectionInput>): ProtectionInput {
  return {
    packs: new Set(['p1', 'p2']),
    local: true,
    byPack: new Map(),
    peers: [peer('bob'), peer('carol')],
    proofs: new Map(),
    wanted: 2,
    auditPeriodMs: 30 * DAY,
    firstSnapshotMs: NOW - DAY,
    now: NOW,
    ...over,
  };
}

const both = new Map([
  ['p1', new Set(['peer-bob', 'peer-carol'])],
  ['p2', new Set(['peer-bob', 'peer-carol'])],
]);

describe('3-2-1 state rules', () => {
  test('no friend holds it: not off-site, and without friends the next step is to pair', () => {
    expect(sourceProtection(input({}))).toMatchObject({ state: 'not off-site', copies: 0 });
    expect(sourceProtection(input({ peers: [] })).nextStep).toMatch(/^no friend holds a copy: pair with a friend/);
  });

  test('fewer copies than replicas: at risk, the next step naming the cause', () => {
    const one = new Map([
      ['p1', new Set(['peer-bob', 'peer-carol'])],
      ['p2', new Set(['peer-bob'])],
    ]);
    const full = peer('carol', {
      shortfall: 'our packs need more than the 16.0 MiB carol granted',
      storedAtPeerBytes: 16 * 1024 * 1024,
      grantFromPeer: 16 * 1024 * 1024,
    });
    const p = sourceProtection(input({ byPack: one, peers: [peer('bob'), full] }));
    expect(p).toMatchObject({ state: 'at risk', copies: 1, wantedCopies: 2 });
    expect(p.nextStep).toBe("carol's grant is full (16.0 MiB of 16.0 MiB used): ask carol for more space or add a friend");
    expect(p.friends.map((f) => [f.name, f.packs, f.of])).toEqual([
      ['bob', 2, 2],
      ['carol', 1, 2],
    ]);
    // full without saying so yet (a round's later, smaller push cleared the shortfall): the pack it lacks no longer fits
    const nearly = peer('carol', { storedAtPeerBytes: 15 * 1024 * 1024, grantFromPeer: 16 * 1024 * 1024 });
    expect(sourceProtection(input({ byPack: one, peers: [peer('bob'), nearly], packBytes: new Map([['p2', 2 * 1024 * 1024]]) })).nextStep).toBe(
      "carol's grant is full (15.0 MiB of 16.0 MiB used): ask carol for more space or add a friend",
    );
    expect(sourceProtection(input({ byPack: one, peers: [peer('bob'), peer('carol', { online: false })] })).nextStep).toMatch(/^carol is offline since/);
    expect(
      sourceProtection(
        input({
          byPack: new Map([
            ['p1', new Set(['peer-bob'])],
            ['p2', new Set(['peer-bob'])],
          ]),
          peers: [peer('bob')],
        }),
      ).nextStep,
    ).toBe('2 copies need 2 friends and there is 1: add a friend (or lower replicas)');
  });

  test('every copy there but none proved within the audit period: at risk; a young source has until then', () => {
    expect(sourceProtection(input({ byPack: both })).state).toBe('protected'); // one day old, never proved: still in its first period
    const old = input({ byPack: both, firstSnapshotMs: NOW - 40 * DAY });
    const never = sourceProtection(old);
    expect(never).toMatchObject({ state: 'at risk', lastProvedAt: null, reason: 'no copy of it was ever proved by a storage challenge or restore drill' });
    expect(never.nextStep).toBe('run "cairn audit" (or "cairn drill") to prove the copies at friends');
    const proofs = new Map([['peer-carol', new Map([['p2', NOW - 31 * DAY]])]]);
    expect(sourceProtection({ ...old, proofs }).reason).toBe('no copy of it was proved since 2026-05-01');
    proofs.set('peer-bob', new Map([['p1', NOW - 2 * DAY]]));
    const ok = sourceProtection({ ...old, proofs });
    expect(ok).toMatchObject({ state: 'protected', nextStep: null, lastProvedAt: new Date(NOW - 2 * DAY).toISOString() });
    expect(ok.friends.find((f) => f.name === 'carol')?.lastProvedAt).toBe(new Date(NOW - 31 * DAY).toISOString());
  });
});
