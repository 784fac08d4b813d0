// Addresses friends get and keep (mesh/addresses.ts): ours with loopback last, and a friend's
// reported loopback address is not kept (nor its IP admitted) unless it reached us over loopback.
import { multiaddr } from '@multiformats/multiaddr';
import { describe, expect, test } from 'vitest';
import { friendAddrs, isLoopbackAddr, shareableAddrs } from '../../src/mesh/addresses.js';

const P = '/p2p/12D3KooWGzLwMQdR6Qz8h5dZG4YrKFbVyN3pjF5oW3uWmUjdyBFX';

describe('addresses friends get and keep', () => {
  test('ours: loopback last; /p2p/ and 0.0.0.0 never', () => {
    expect(shareableAddrs([multiaddr(`/ip4/127.0.0.1/tcp/4001${P}`), multiaddr(`/ip4/192.168.2.2/tcp/4001${P}`), multiaddr('/ip6/::1/tcp/4001')])).toEqual([
      '/ip4/192.168.2.2/tcp/4001',
      '/ip4/127.0.0.1/tcp/4001',
      '/ip6/::1/tcp/4001',
    ]);
    expect(shareableAddrs([multiaddr('/ip4/127.0.0.1/tcp/4001')])).toEqual(['/ip4/127.0.0.1/tcp/4001']);
    expect(shareableAddrs([multiaddr('/ip4/0.0.0.0/tcp/4001'), multiaddr('/ip4/10.0.0.5/tcp/4001')])).toEqual(['/ip4/10.0.0.5/tcp/4001']);
  });

  test("a friend's: loopback kept only when the friend came over loopback", () => {
    const reported = ['/ip4/127.0.0.1/tcp/4001', '/ip4/203.0.113.7/tcp/4001', '/ip4/0.0.0.0/tcp/4001', '/dns4/localhost/tcp/4001'];
    expect(friendAddrs(reported, '/ip4/198.51.100.9/tcp/51234')).toEqual(['/ip4/203.0.113.7/tcp/4001']);
    expect(friendAddrs(reported, '/ip4/127.0.0.1/tcp/51234')).toEqual(['/ip4/127.0.0.1/tcp/4001', '/ip4/203.0.113.7/tcp/4001', '/dns4/localhost/tcp/4001']);
    expect(isLoopbackAddr('/ip4/127.8.9.10/tcp/1')).toBe(true);
    expect(isLoopbackAddr('/ip4/128.0.0.1/tcp/1')).toBe(false);
  });

  test("relayed addresses (SPEC 13.1) travel: ours keep the relay part, a friend's are kept", () => {
    const R = '/p2p/12D3KooWRhQ8S5sL4iLhXbLmXZ3k2Nk2GpmYwmPuX8XrGq1bUvYb';
    const relayed = `/ip4/203.0.113.9/tcp/4001${R}/p2p-circuit`;
    expect(shareableAddrs([multiaddr(`/ip4/192.168.2.2/tcp/4001${P}`), multiaddr(`${relayed}${P}`)])).toEqual(['/ip4/192.168.2.2/tcp/4001', relayed]);
    expect(friendAddrs(['/ip4/192.168.2.2/tcp/4001', relayed], `${relayed}${P}`)).toEqual(['/ip4/192.168.2.2/tcp/4001', relayed]);
  });
});
