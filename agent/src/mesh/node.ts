// The libp2p node: TCP + Noise + Yamux, a stable identity, and a gater that admits only friends
// (and strangers only while an invite is open, for the pairing protocol alone; every other
// handler checks friendship itself), the circuit relay among friends (relay.ts, relay-policy.ts),
// and WebRTC between friends behind NATs (webrtc.ts), signalled over that relay.
// Before Noise, connections are admitted by remote IP
// (admission.ts): strangers cannot hold enough half-open connections to lock friends out.
import { noise } from '@chainsafe/libp2p-noise';
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys';
import { identify, identifyPush } from '@libp2p/identify';
import type { Libp2p, PeerId, PrivateKey } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { tcp } from '@libp2p/tcp';
import { createLibp2p } from 'libp2p';
import { ADMISSION_LIMITS, InboundAdmission, type AdmissionLimits } from './admission.js';
import { linkOf } from './relayed-addrs.js';
import { guardRelayStop, relayServer, relayTransport } from './relay.js';
import { relayGater, type RelayPolicyDeps } from './relay-policy.js';
import type { RelayBudget } from './relay-budget.js';
import { onRelayedCircuits, relayAsDrained } from './relay-circuits.js';
import { nodeParts } from './node-parts.js';
import { coalescingEncrypter } from './write-coalescing.js';
import { yamuxHalfWindowUpdates } from './yamux-window.js';
import { guardWebRTCSignalling, trackWebRTCNode, WEBRTC_LISTEN, webrtcTransport } from './webrtc.js';

/** Inbound connection attempts accepted per second from one host. */
const INBOUND_CONNECTIONS_PER_SECOND = 100;
/**
 * libp2p's own ceiling on connections not yet upgraded (its default, 10, was the whole lock-out).
 * Admission (admission.ts) keeps strangers far below it; this only bounds the burst between a
 * socket being accepted and the gater answering.
 */
const MAX_INCOMING_PENDING_CONNECTIONS = 1024;
/** A connection must finish Noise and Yamux negotiation within this (libp2p's default is 10 s). */
export const INBOUND_UPGRADE_TIMEOUT_MS = 5_000;

/** The agent's peer key, derived from the repository's signing seed: a recovered host keeps its PeerId. */
export async function peerKeyFromSeed(seed: Buffer): Promise<PrivateKey> {
  return generateKeyPairFromSeed('Ed25519', seed);
}

export interface MeshNodeOptions {
  privateKey: PrivateKey;
  listen: string[];
  announce?: string[];
  /** After Noise: whether this PeerId may keep its connection. */
  admit: (peer: PeerId) => boolean;
  /** Before Noise: whether a remote IP is one a friend was seen at (it gets room of its own). */
  isFriendIp?: (ip: string) => boolean;
  admission?: AdmissionLimits;
  /** Who may use our relay, and who may reach us through one (relay-policy.ts); nobody when absent. */
  relay?: RelayPolicyDeps;
  /** What our relay carries per friend (rate, daily volume; relay-budget.ts); unmetered when absent. */
  relayBudget?: RelayBudget;
  /** STUN servers the user configured (`stun:`); without them ICE asks only friends' agents (webrtc.ts). */
  stun?: string[];
  /** WebRTC among friends (webrtc.ts); false: the transport is left out (cairn.yaml `webrtc: false`). */
  webrtc?: boolean;
}

export async function createMeshNode(opts: MeshNodeOptions): Promise<Libp2p> {
  const admission = new InboundAdmission(opts.isFriendIp ?? (() => false), opts.admission ?? ADMISSION_LIMITS);
  const isFriend = (peerId: string) => opts.relay?.isFriend(peerIdFromString(peerId)) ?? false;
  const built: { node?: Libp2p } = {};
  const rtc = opts.webrtc !== false;
  const node = await createLibp2p({
    privateKey: opts.privateKey,
    // appended, not replacing: friends on the LAN keep the interface addresses
    // /webrtc: accept WebRTC, and advertise it on every relayed address we hold
    addresses: { listen: [...opts.listen, ...(rtc ? [WEBRTC_LISTEN] : [])], appendAnnounce: opts.announce ?? [] },
    transports: [tcp(), relayTransport(), ...(rtc ? [await webrtcTransport(() => built.node, { configured: opts.stun ?? [], isFriend })] : [])],
    // what Noise encrypts leaves in one write per batch, not one per piece (write-coalescing.ts)
    connectionEncrypters: [coalescingEncrypter(noise())],
    // window updates per half window, not per frame (yamux-window.ts)
    streamMuxers: [yamuxHalfWindowUpdates()],
    // relay: friends-only circuit relay (relay.ts); parts: the address manager and logger, for LAN
    // discovery and port mapping (node-parts.ts); identifyPush: an address gained later (a port the
    // router mapped, a relay reservation) reaches connected friends
    services: { identify: identify(), identifyPush: identifyPush(), relay: relayServer(), parts: nodeParts() },
    // libp2p's default (5 inbound connections per second per host) refuses friends behind one
    // NAT address and retries after a refused stranger; the gater decides who is admitted.
    connectionManager: {
      inboundConnectionThreshold: INBOUND_CONNECTIONS_PER_SECOND,
      maxIncomingPendingConnections: MAX_INCOMING_PENDING_CONNECTIONS,
      inboundUpgradeTimeout: INBOUND_UPGRADE_TIMEOUT_MS,
    },
    connectionGater: {
      ...relayGater({
        ...(opts.relay ?? { isFriend: () => false, inviteOpen: () => false }),
        ...(opts.relayBudget ? { overBudget: (peer: PeerId) => opts.relayBudget?.exhausted(peer.toString()) === true } : {}),
      }),
      // a relayed connection arrives inside one from a friend's relay, already let through by
      // denyInboundRelayedConnection, and a WebRTC one was signalled by a friend (webrtc.ts): they
      // have no remote IP of their own to count
      denyInboundConnection: (maConn) => linkOf(maConn.remoteAddr) === 'direct' && admission.deny(maConn),
      denyInboundEncryptedConnection: (peer) => !opts.admit(peer),
      denyInboundUpgradedConnection: (_peer, maConn) => {
        admission.settled(maConn);
        return false;
      },
      // loopback and private addresses are where friends on a LAN live
      denyDialMultiaddr: () => false,
    },
  });
  built.node = node;
  if (rtc) trackWebRTCNode(node);
  await guardRelayStop(node);
  // what our relay joins: metered per friend (relay-budget.ts), each stream read only as fast as the other end takes it (relay-circuits.ts)
  onRelayedCircuits(
    node.services.relay,
    () => node.getPeers(),
    (c) => {
      opts.relayBudget?.watchCircuit(c);
      relayAsDrained(c);
    },
  );
  if (rtc) await guardWebRTCSignalling(node, isFriend);
  return node;
}
