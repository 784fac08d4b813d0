// Why a friend is reached the way it is (reach-why.ts): one sentence per case, from plain inputs.
import { describe, expect, test } from 'vitest';
import { formatTime } from '../../../protocol/format.js';
import { REACH_WHY_MAX_CHARS, reachWhy, type ReachWhyInput } from '../../src/mesh/reach-why.js';

const SEEN = '2026-06-01T12:03:00.000Z';
const at = formatTime(SEEN, { seconds: false });

function input(over: Partial<ReachWhyInput>): ReachWhyInput {
  return {
    reach: 'direct',
    via: null,
    self: { state: 'public', relays: [] },
    selfBehindCgnat: false,
    friend: { direct: true, relays: [] },
    directWeDialled: true,
    upgradeFailures: 0,
    lastSeen: SEEN,
    ...over,
  };
}

describe('reachWhy', () => {
  test('LAN and direct: who answers at whose address', () => {
    expect(reachWhy(input({ reach: 'lan' }))).toBe('on the same LAN: found by mDNS, connected directly');
    expect(reachWhy(input({ reach: 'direct', directWeDialled: true }))).toBe('it answers at its direct address');
    expect(reachWhy(input({ reach: 'direct', directWeDialled: false }))).toBe('it dialled our direct address');
  });

  test('WebRTC: a hole punch through both NATs, set up through the relay', () => {
    expect(reachWhy(input({ reach: 'webrtc', self: { state: 'relayed', relays: ['pub'] }, friend: { direct: true, relays: ['pub'] } }))).toBe(
      "both behind NAT: a UDP hole punch (WebRTC) worked, set up through pub's relay",
    );
  });

  test('relayed: we are behind CGNAT, or the upgrade keeps failing, or the friend is behind NAT', () => {
    const relayed = { reach: 'relayed' as const, via: 'carol', friend: { direct: true, relays: ['carol'] } };
    expect(reachWhy(input({ ...relayed, self: { state: 'relayed', relays: ['carol'] }, selfBehindCgnat: true }))).toBe(
      "we are behind CGNAT and it answers at no direct address: reached through carol's relay",
    );
    expect(reachWhy(input({ ...relayed, self: { state: 'relayed', relays: ['carol'] } }))).toBe(
      "we are behind NAT and it answers at no direct address: reached through carol's relay",
    );
    expect(reachWhy(input({ ...relayed, upgradeFailures: 1 }))).toBe(
      "its direct and WebRTC upgrade failed once (hard NAT or CGNAT on a side): relayed through carol's relay",
    );
    expect(reachWhy(input({ ...relayed, upgradeFailures: 4 }))).toBe(
      "its direct and WebRTC upgrade failed 4 times in a row (hard NAT or CGNAT on a side): relayed through carol's relay",
    );
    expect(reachWhy(input(relayed))).toBe("it is behind NAT (no direct address of it answers): reached through carol's relay");
  });

  test('unreachable: both behind NAT with no relay, its relay silent, no answer since, no address', () => {
    const gone = { reach: 'unreachable' as const };
    expect(reachWhy(input({ ...gone, self: { state: 'unreachable', relays: [] }, selfBehindCgnat: true, lastSeen: null }))).toBe(
      'both behind NAT (this host behind CGNAT), no relay: no answer at its direct addresses yet; pair both with a `cairn relay` on a public server',
    );
    expect(reachWhy(input({ ...gone, self: { state: 'unreachable', relays: [] } }))).toBe(
      `both behind NAT, no relay: no answer at its direct addresses since ${at}; pair both with a \`cairn relay\` on a public server`,
    );
    expect(reachWhy(input({ ...gone, friend: { direct: true, relays: ['pub'] } }))).toBe(
      `no answer at its last known addresses (direct or through pub's relay) since ${at}`,
    );
    expect(reachWhy(input(gone))).toBe(`no answer at its last known addresses since ${at}`);
    expect(reachWhy(input({ ...gone, lastSeen: null }))).toBe('no answer at its last known addresses yet');
    expect(reachWhy(input({ ...gone, friend: { direct: false, relays: [] }, lastSeen: null }))).toBe('no address known for it');
    expect(reachWhy(input({ ...gone, friend: { direct: false, relays: [] } }))).toBe(`no address known for it: not seen since ${at}`);
  });

  test('the relay agent knows nothing of its own reachability: no claim about this host', () => {
    expect(reachWhy(input({ reach: 'unreachable', self: null }))).toBe(`no answer at its last known addresses since ${at}`);
    expect(reachWhy(input({ reach: 'relayed', via: 'pub', self: null }))).toBe(
      "it is behind NAT (no direct address of it answers): reached through pub's relay",
    );
  });

  test('bounded: long relay names are cut to REACH_WHY_MAX_CHARS', () => {
    const s = reachWhy(input({ reach: 'relayed', via: 'x'.repeat(500), upgradeFailures: 2 }));
    expect(s.length).toBe(REACH_WHY_MAX_CHARS);
    expect(s.endsWith('…')).toBe(true);
  });
});
