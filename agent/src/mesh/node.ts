// The libp2p node: TCP + Noise + Yamux, a stable identity, and a gater that admits only friends
// (and strangers only while an invite is open, for the pairing protocol alone; every other
// handler checks friendship itself).
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys';
import { identify } from '@libp2p/identify';
import type { Libp2p, PeerId, PrivateKey } from '@libp2p/interface';
import { tcp } from '@libp2p/tcp';
import { createLibp2p } from 'libp2p';

/** Inbound connection attempts accepted per second from one host. */
const INBOUND_CONNECTIONS_PER_SECOND = 100;

/** The agent's peer key, derived from the repository's signing seed: a recovered host keeps its PeerId. */
export async function peerKeyFromSeed(seed: Buffer): Promise<PrivateKey> {
  return generateKeyPairFromSeed('Ed25519', seed);
}

export async function createMeshNode(opts: { privateKey: PrivateKey; listen: string[]; announce?: string[]; admit: (peer: PeerId) => boolean }): Promise<Libp2p> {
  return createLibp2p({
    privateKey: opts.privateKey,
    // appended, not replacing: friends on the LAN keep the interface addresses
    addresses: { listen: opts.listen, appendAnnounce: opts.announce ?? [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() },
    // libp2p's default (5 inbound connections per second per host) refuses friends behind one
    // NAT address and retries after a refused stranger; the gater decides who is admitted.
    connectionManager: { inboundConnectionThreshold: INBOUND_CONNECTIONS_PER_SECOND },
    connectionGater: {
      denyInboundEncryptedConnection: (peer) => !opts.admit(peer),
      // loopback and private addresses are where friends on a LAN live
      denyDialMultiaddr: () => false,
    },
  });
}
