// Talking to a real agent's mesh from the test process: an in-process libp2p node (a stranger, or
// a friend once it has paired with an invite), raw length-prefixed frames, and the agent's
// /health and resident memory, to show hostile input neither crashes it nor makes it allocate.
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Libp2p, PrivateKey, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { byteStream, type ByteStream } from '@libp2p/utils';
import { multiaddr } from '@multiformats/multiaddr';
import { readFile } from 'node:fs/promises';
import { varint } from '../../../bench/adversarial/frame-fuzz.js';
import { decodeInvite, inviteId } from '../../../protocol/invite.js';
import { MAX_FRAME_BYTES, type PairRequest } from '../../../protocol/mesh.js';
import { createMeshNode } from '../../src/mesh/node.js';
import { pairProof } from '../../src/mesh/pair.js';
import type { TestAgent } from './agents.js';

const FRAME_LIMIT = MAX_FRAME_BYTES;

/** A libp2p node with a fresh identity that admits anyone (its own gate is not under test). */
export async function startWireNode(): Promise<{ node: Libp2p; key: PrivateKey }> {
  const key = await generateKeyPair('Ed25519');
  const node = await createMeshNode({ privateKey: key, listen: ['/ip4/127.0.0.1/tcp/0'], admit: () => true });
  await node.start();
  return { node, key };
}

export function agentAddr(agent: TestAgent): ReturnType<typeof multiaddr> {
  const a = agent.info.addrs.find((x) => x.includes('/ip4/127.0.0.1/tcp/')) ?? agent.info.addrs[0];
  if (!a) throw new Error(`${agent.name} announces no address`);
  return multiaddr(`${a.replace(/\/p2p\/[^/]+$/, '')}/p2p/${agent.info.peerId}`);
}

export async function dial(node: Libp2p, agent: TestAgent, protocol: string): Promise<Stream> {
  return node.dialProtocol(agentAddr(agent), protocol, { signal: AbortSignal.timeout(15_000) });
}

/** What a request got back: a JSON reply, or the stream ended (reset or closed) without one. */
export type Outcome = { kind: 'reply'; value: unknown } | { kind: 'closed'; error: string };

export function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  const inner = (err as { error?: unknown } | null)?.error;
  if (inner !== undefined && inner !== null) return describeError(inner);
  return String(err);
}

/**
 * Frames written and read by hand over a byte stream (not the engine's Frames class), so a test
 * can also send what a well-behaved peer never would.
 */
export class RawWire {
  readonly stream: Stream;
  private readonly bytes: ByteStream<Stream>;

  constructor(stream: Stream) {
    this.stream = stream;
    this.bytes = byteStream(stream, { maxBufferSize: 2 * FRAME_LIMIT });
  }

  async raw(b: Uint8Array, timeoutMs = 30_000): Promise<void> {
    await this.bytes.write(b, { signal: AbortSignal.timeout(timeoutMs) });
  }

  async frame(b: Uint8Array): Promise<void> {
    await this.raw(Buffer.concat([varint(b.length), b]));
  }

  async json(v: unknown): Promise<void> {
    await this.frame(Buffer.from(JSON.stringify(v)));
  }

  /** The next frame, or null when the remote closed cleanly before sending one. */
  async readFrame(timeoutMs = 30_000): Promise<Buffer | null> {
    const signal = AbortSignal.timeout(timeoutMs);
    let len = 0;
    let mul = 1;
    for (let i = 0; i < 9; i++) {
      let got;
      try {
        got = await this.bytes.read({ bytes: 1, signal });
      } catch (err) {
        if (i === 0 && (err as Error).name === 'UnexpectedEOFError') return null;
        throw err;
      }
      const b = got.subarray()[0] as number;
      len += (b & 0x7f) * mul;
      mul *= 0x80;
      if (b < 0x80) return len === 0 ? Buffer.alloc(0) : Buffer.from((await this.bytes.read({ bytes: len, signal })).subarray());
    }
    throw new Error('varint too long');
  }

  async readJson(timeoutMs = 30_000): Promise<unknown> {
    const f = await this.readFrame(timeoutMs);
    if (f === null) throw new Error('stream closed without a reply');
    return JSON.parse(f.toString('utf8')) as unknown;
  }

  /** Sends a request and reads one reply; a reset or close becomes { kind: 'closed' }. */
  async request(body: unknown, timeoutMs = 30_000): Promise<Outcome> {
    try {
      await this.json(body);
      return { kind: 'reply', value: await this.readJson(timeoutMs) };
    } catch (err) {
      return { kind: 'closed', error: describeError(err) };
    }
  }

  /**
   * A one-request exchange as an honest client has it: the request, its reply, then our side
   * closed. A stream left open counts against the peer's streams of that protocol (service.ts)
   * until the agent gives up waiting for the close.
   */
  async requestOnce(body: unknown, timeoutMs = 30_000): Promise<Outcome> {
    const outcome = await this.request(body, timeoutMs);
    await this.stream.close({ signal: AbortSignal.timeout(timeoutMs) }).catch(() => this.stream.abort(new Error('closing the stream failed')));
    return outcome;
  }

  /** Sends `total` pack bytes in frames of at most 1 MiB, waiting for each frame's acknowledgement (byte 6). */
  async sendPack(bytes: Buffer, frameBytes = 1024 * 1024): Promise<void> {
    for (let off = 0; off < bytes.length; off += frameBytes) {
      await this.frame(bytes.subarray(off, off + frameBytes));
      const ack = await this.readFrame();
      if (ack === null || ack.length !== 1 || ack[0] !== 6)
        throw new Error(`expected an acknowledgement, got ${ack === null ? 'end of stream' : ack.toString('hex').slice(0, 40)}`);
    }
  }

  /**
   * Announces a frame of `announced` bytes, sends `sendBytes` of filler, and reports how the remote
   * ended the stream. A reset is what the protocol promises; a reply or timeout is not.
   */
  async oversize(announced: number, sendBytes: number, timeoutMs = 30_000): Promise<{ ended: 'reset' | 'closed' | 'reply' | 'timeout'; detail: string }> {
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      await this.bytes.write(varint(announced), { signal });
      const chunk = Buffer.alloc(64 * 1024, 0x41);
      for (let sent = 0; sent < sendBytes; sent += chunk.length) await this.bytes.write(chunk, { signal });
    } catch (err) {
      // writing into a stream the remote already reset fails here
      return { ended: signal.aborted ? 'timeout' : 'reset', detail: describeError(err) };
    }
    return this.ending(signal);
  }

  /** How the remote ends the exchange after what we sent: a reply, closing its side, a reset, or nothing before `signal` fires. */
  async ending(signal: AbortSignal = AbortSignal.timeout(30_000)): Promise<{ ended: 'reset' | 'closed' | 'reply' | 'timeout'; detail: string }> {
    try {
      const got = await this.bytes.read({ signal });
      if (got === null) return { ended: 'closed', detail: 'remote closed its side without a reply' };
      return { ended: 'reply', detail: Buffer.from(got.subarray()).toString('utf8').slice(0, 200) };
    } catch (err) {
      return { ended: signal.aborted ? 'timeout' : 'reset', detail: describeError(err) };
    }
  }
}

/** Pairs the in-process node with an agent using an invite code; resolves the inviter's reply. */
export async function pairNode(node: Libp2p, code: string, name: string, grantBytes: number): Promise<Outcome> {
  const inv = decodeInvite(code);
  await node.peerStore.merge(peerIdFromString(inv.peerId), { multiaddrs: inv.addrs.map((a) => multiaddr(a)) });
  const stream = await node.dialProtocol(multiaddr(`${inv.addrs[0]}/p2p/${inv.peerId}`), '/cairn/pair/1.0.0', { signal: AbortSignal.timeout(15_000) });
  const addrs = node.getMultiaddrs().map((a) => a.toString().replace(/\/p2p\/[^/]+$/, ''));
  const req: PairRequest = { inviteId: inviteId(inv.secret), proof: pairProof(inv.secret, inv.peerId, node.peerId.toString()), name, grantBytes, addrs };
  const r = await new RawWire(stream).request(req);
  await stream.close().catch(() => undefined);
  return r;
}

/** Resident set size of a process in bytes (VmRSS). */
export async function rssBytes(pid: number): Promise<number> {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** GET /health on the agent's API (no token needed). */
export async function health(agent: TestAgent): Promise<{ ok: boolean; peerId: string }> {
  const base = agent.info.api.startsWith('http') ? agent.info.api : `http://${agent.info.api}`;
  const res = await fetch(`${base.replace(/\/$/, '')}/health`, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`/health answered ${res.status}`);
  return (await res.json()) as { ok: boolean; peerId: string };
}
