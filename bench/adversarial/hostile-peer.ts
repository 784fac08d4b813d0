// The attackers of the mesh soak (agent/test/adversarial/mesh-soak.test.ts), in a process of their
// own: eve, a friend of the target agent (she pairs with an invite code; with several codes, one eve
// per code, each a friend of her own), and mallory, a stranger (let in only while an invite is open). Run apart from the honest friend, so what slows the honest
// friend is the target agent, not the attacker's own event loop.
//
// Eve and mallory send hostile exchanges (frame-fuzz.ts) on every mesh protocol from several lanes
// at once: each exchange on a new stream of a connection kept open, written at once, the replies
// read and discarded as they come, at most `inflight` streams per node open at a time. Beside them
// run the named attacks: tiny hash-correct packs, validly signed heads with ever higher sequence
// numbers, floods of 40 streams held for a second, dripped pack-puts, and `heldSockets` idle TCP
// connections reopened as they close. Eve's own handlers answer the target's pack lists with
// endless pages, hold its pushes without reading, and never answer its head requests.
//
// Usage: node dist/bench/adversarial/hostile-peer.js '<json HostileConfig>'
// Stdout: one JSON line per event: {"event":"ready","eve":...}, {"event":"progress",...} every
// `progressMs` once a line on stdin has started the attack, {"event":"done",...} once `frames` frames are out. It then keeps eve's handlers up
// (the target may still replicate to her) until stdin closes.
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Libp2p, PrivateKey, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { lpStream } from '@libp2p/utils';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { decodeInvite, inviteId } from '../../protocol/invite.js';
import { MAX_FRAME_BYTES, PROTOCOLS, type Head } from '../../protocol/mesh.js';
import { signHead } from '../../agent/src/mesh/head-chain.js';
import { createMeshNode } from '../../agent/src/mesh/node.js';
import { pairProof } from '../../agent/src/mesh/pair.js';
import { hostileExchange, MESH_PROTOCOLS } from './frame-fuzz.js';
import { prng } from './prng.js';

export interface HostileConfig {
  /** The target's libp2p address, with /p2p/<PeerId>. */
  target: string;
  /** Invites of the target's, one per eve (each eve is a friend of her own, with her own per-friend limits). */
  inviteCodes: string[];
  /** Eve's grant to the target, bytes. */
  eveGrantBytes: number;
  /** Hostile frames to send in all before "done". */
  frames: number;
  seed: number;
  /** Fuzzing lanes (loops opening streams). */
  lanes: number;
  /** Fuzzing streams open at once per node (each eve and mallory). */
  inflight: number;
  /** Most hostile frames written on one fuzzing stream (each stream carries 1 to this many). */
  maxFramesPerStream: number;
  /** Share of fuzzed exchanges that come from mallory, the stranger. */
  strangerShare: number;
  heldSockets: number;
  progressMs: number;
  /** How long eve's handlers hold the target's pushes and head requests before resetting them (ms). */
  holdMs: number;
  /** Stop after this long even if fewer than `frames` frames are out (s; 0: no limit). */
  maxSeconds: number;
}

export interface HostileCounts {
  /** Hostile frames written (fuzzed exchanges and the named attacks). */
  frames: number;
  /** Streams opened for fuzzed exchanges, by protocol. */
  streams: Record<string, number>;
  /** Fuzzed exchanges that could not open a stream (refused, reset, timed out). */
  openFailures: number;
  /** Fuzzed streams the target answered with at least one byte before ending them. */
  answered: number;
  tinyPacks: { tried: number; stored: number; refused: number };
  headPuts: { tried: number; taken: number; refused: number };
  floods: number;
  drips: { started: number; cutOff: number };
  socketsOpened: number;
  listPagesServed: number;
  seconds: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function packOf(size: number): { id: string; bytes: Buffer } {
  const bytes = randomBytes(size);
  return { id: createHash('sha256').update(bytes).digest('hex'), bytes };
}

async function startNode(key?: PrivateKey): Promise<{ node: Libp2p; key: PrivateKey }> {
  const k = key ?? (await generateKeyPair('Ed25519'));
  const node = await createMeshNode({ privateKey: k, listen: ['/ip4/127.0.0.1/tcp/0'], admit: () => true });
  await node.start();
  return { node, key: k };
}

/** One JSON request on a framed stream and its JSON reply (or null if the stream ended without one). */
async function requestJson(s: Stream, body: unknown, timeoutMs: number): Promise<Record<string, unknown> | null> {
  const lp = lpStream(s, { maxDataLength: MAX_FRAME_BYTES });
  const signal = AbortSignal.timeout(timeoutMs);
  await lp.write(Buffer.from(JSON.stringify(body)), { signal });
  try {
    return JSON.parse(Buffer.from((await lp.read({ signal })).subarray()).toString('utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

export async function runHostile(cfg: HostileConfig, emit: (event: Record<string, unknown>) => void, stopped: () => boolean, go: Promise<void>): Promise<void> {
  const target: Multiaddr = multiaddr(cfg.target);
  const eves = await Promise.all(cfg.inviteCodes.map(() => startNode()));
  const eve = eves[0];
  if (!eve) throw new Error('no invite code for eve');
  const mallory = await startNode();
  const r = prng(cfg.seed);
  const c: HostileCounts = {
    frames: 0,
    streams: Object.fromEntries(MESH_PROTOCOLS.map((p) => [p, 0])),
    openFailures: 0,
    answered: 0,
    tinyPacks: { tried: 0, stored: 0, refused: 0 },
    headPuts: { tried: 0, taken: 0, refused: 0 },
    floods: 0,
    drips: { started: 0, cutOff: 0 },
    socketsOpened: 0,
    listPagesServed: 0,
    seconds: 0,
  };

  // pair each eve with her invite
  for (const [i, e] of eves.entries()) {
    const inv = decodeInvite(cfg.inviteCodes[i] as string);
    await e.node.peerStore.merge(peerIdFromString(inv.peerId), { multiaddrs: inv.addrs.map((a) => multiaddr(a)) });
    const pairStream = await e.node.dialProtocol(target, PROTOCOLS.pair, { signal: AbortSignal.timeout(15_000) });
    const addrs = e.node.getMultiaddrs().map((a) => a.toString().replace(/\/p2p\/[^/]+$/, ''));
    const proof = pairProof(inv.secret, inv.peerId, e.node.peerId.toString());
    const name = i === 0 ? 'eve' : `eve${i + 1}`;
    const accept = await requestJson(pairStream, { inviteId: inviteId(inv.secret), proof, name, grantBytes: cfg.eveGrantBytes, addrs }, 15_000);
    await pairStream.close().catch(() => undefined);
    if (accept?.ok !== true) throw new Error(`${name} could not pair: ${JSON.stringify(accept).slice(0, 300)}`);
  }

  // each eve's own side: lists that never end, pushes she never reads, heads she never gives
  for (const e of eves) {
    await e.node.handle(PROTOCOLS.packList, async (stream) => {
      const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES });
      await lp.read({ signal: AbortSignal.timeout(30_000) }).catch(() => null);
      for (let i = 0; i < 100_000 && stream.status === 'open'; i++) {
        const packs = Array.from({ length: 1000 }, () => ({ id: randomBytes(32).toString('hex'), sizeBytes: 1 }));
        await lp
          .write(Buffer.from(JSON.stringify({ ok: true, packs, more: true })), { signal: AbortSignal.timeout(30_000) })
          .catch(() => stream.abort(new Error('done')));
        c.listPagesServed += 1;
      }
    });
    await e.node.handle(PROTOCOLS.packPut, async (stream) => {
      await lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
        .read({ signal: AbortSignal.timeout(30_000) })
        .catch(() => null);
      await sleep(cfg.holdMs); // holds the stream, reads nothing
      stream.abort(new Error('eve: let go'));
    });
    await e.node.handle(PROTOCOLS.head, async (stream) => {
      await sleep(cfg.holdMs);
      stream.abort(new Error('eve: let go'));
    });
  }
  emit({ event: 'ready', eve: eve.node.peerId.toString(), eves: eves.map((e) => e.node.peerId.toString()), mallory: mallory.node.peerId.toString() });
  await go;

  const started = performance.now();
  let done = false;
  const finished = () => done || stopped() || (cfg.maxSeconds > 0 && performance.now() - started > cfg.maxSeconds * 1000);

  // fuzzed exchanges: streams opened without waiting for negotiation, written at once, replies discarded
  const open = new Map<Libp2p, number>();
  const fuzzLane = async () => {
    while (!finished()) {
      const node = r() < cfg.strangerShare ? mallory.node : (eves[Math.floor(r() * eves.length)] ?? eve).node;
      if ((open.get(node) ?? 0) >= cfg.inflight) {
        await sleep(2);
        continue;
      }
      const protocol = MESH_PROTOCOLS[Math.floor(r() * MESH_PROTOCOLS.length)] as string;
      // several hostile exchanges back to back on one stream (the handler takes the first; what
      // follows is more than it asked for, which is hostile too)
      const want = 1 + Math.floor(r() * cfg.maxFramesPerStream);
      const chunks: Buffer[] = [];
      let frames = 0;
      while (frames < want) {
        const x = hostileExchange(protocol, r);
        chunks.push(...x.chunks);
        frames += x.frames;
      }
      open.set(node, (open.get(node) ?? 0) + 1);
      let s: Stream;
      try {
        s = await node.dialProtocol(target, protocol, { signal: AbortSignal.timeout(10_000), negotiateFully: false });
      } catch {
        open.set(node, (open.get(node) ?? 1) - 1);
        c.openFailures += 1;
        await sleep(20);
        continue;
      }
      c.streams[protocol] = (c.streams[protocol] ?? 0) + 1;
      c.frames += frames;
      if (c.frames >= cfg.frames) done = true;
      let answered = false;
      s.addEventListener('message', () => {
        if (!answered) c.answered += 1;
        answered = true;
      });
      // the stream is done when the target ends it, or after 2 s (then we reset it); its slot is
      // free at the latest 3 s after it opened, even if its close event came before the listener
      // (a stream the target reset at once) and never comes again
      const ended = Promise.race([new Promise<void>((res) => s.addEventListener('close', () => res(), { once: true })), sleep(3_000)]);
      const cut = setTimeout(() => s.abort(new Error('fuzz: done')), 2_000);
      void ended.then(() => {
        clearTimeout(cut);
        open.set(node, (open.get(node) ?? 1) - 1);
      });
      try {
        for (const chunk of chunks) if (!s.send(chunk)) await s.onDrain({ signal: AbortSignal.timeout(2_000) });
        // now and then leave the stream open without closing our side (an abandoned stream is hostile too)
        if (r() < 0.8) void s.close({ signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
      } catch {
        // a reset is a fine answer to a hostile frame
      }
    }
  };

  const tinyPacks = async () => {
    while (!finished()) {
      const p = packOf(1 + Math.floor(r() * 200));
      c.tinyPacks.tried += 1;
      try {
        const s = await eve.node.dialProtocol(target, PROTOCOLS.packPut, { signal: AbortSignal.timeout(10_000) });
        const lp = lpStream(s, { maxDataLength: MAX_FRAME_BYTES });
        const signal = AbortSignal.timeout(10_000);
        await lp.write(Buffer.from(JSON.stringify({ packId: p.id, sizeBytes: p.bytes.length })), { signal });
        const ready = JSON.parse(Buffer.from((await lp.read({ signal })).subarray()).toString('utf8')) as { ok?: boolean; have?: boolean };
        c.frames += 1;
        if (ready.ok === true && ready.have !== true) {
          await lp.write(p.bytes, { signal });
          await lp.read({ signal }); // the acknowledgement
          const stored = JSON.parse(Buffer.from((await lp.read({ signal })).subarray()).toString('utf8')) as { ok?: boolean };
          c.frames += 1;
          if (stored.ok === true) c.tinyPacks.stored += 1;
        } else c.tinyPacks.refused += 1;
        s.abort(new Error('done'));
      } catch {
        c.tinyPacks.refused += 1;
      }
      await sleep(20);
    }
  };

  let headSeq = 1;
  const headSpam = async () => {
    while (!finished()) {
      const head: Head = {
        version: 1,
        repoId: 'e'.repeat(64),
        seq: headSeq++,
        prev: null,
        time: new Date(0).toISOString(),
        snapshots: Array.from({ length: 2000 }, () => randomBytes(32).toString('hex')),
        chunker: 'x',
        sealedFriends: 'A'.repeat(4096),
      };
      c.headPuts.tried += 1;
      try {
        const s = await eve.node.dialProtocol(target, PROTOCOLS.head, { signal: AbortSignal.timeout(10_000) });
        const reply = await requestJson(s, { op: 'put', head: await signHead(eve.key, head) }, 10_000);
        c.frames += 1;
        if (reply?.ok === true) c.headPuts.taken += 1;
        else c.headPuts.refused += 1;
        s.abort(new Error('done'));
      } catch {
        c.headPuts.refused += 1;
      }
      await sleep(50);
    }
  };

  const floods = async () => {
    while (!finished()) {
      await sleep(5_000);
      const streams = await Promise.all(
        Array.from({ length: 40 }, () =>
          eve.node
            .dialProtocol(target, MESH_PROTOCOLS[Math.floor(r() * MESH_PROTOCOLS.length)] as string, { signal: AbortSignal.timeout(10_000) })
            .catch(() => null),
        ),
      );
      c.floods += 1;
      await sleep(1_000);
      for (const s of streams) s?.abort(new Error('done'));
    }
  };

  // a pack-put announced at 1 MiB whose bytes come a few at a time, every 5 s: the target's deadline must cut it off
  const drip = async () => {
    while (!finished()) {
      c.drips.started += 1;
      try {
        const p = packOf(1024 * 1024);
        const s = await eve.node.dialProtocol(target, PROTOCOLS.packPut, { signal: AbortSignal.timeout(10_000) });
        const lp = lpStream(s, { maxDataLength: MAX_FRAME_BYTES });
        await lp.write(Buffer.from(JSON.stringify({ packId: p.id, sizeBytes: p.bytes.length })), { signal: AbortSignal.timeout(10_000) });
        const ready = JSON.parse(Buffer.from((await lp.read({ signal: AbortSignal.timeout(10_000) })).subarray()).toString('utf8')) as { ok?: boolean };
        c.frames += 1;
        if (ready.ok !== true) {
          s.abort(new Error('done'));
          await sleep(5_000);
          continue;
        }
        // one frame announced, its bytes dripped: 64 bytes every 5 s
        s.send(Buffer.from([0x80, 0x80, 0x40])); // varint 1 MiB
        for (let off = 0; off < p.bytes.length && !finished() && s.status === 'open'; off += 64) {
          s.send(p.bytes.subarray(off, off + 64));
          await sleep(5_000);
        }
        if (s.status !== 'open') c.drips.cutOff += 1;
        s.abort(new Error('done'));
      } catch {
        c.drips.cutOff += 1;
        await sleep(1_000);
      }
    }
  };

  // mallory's idle TCP connections to the target's libp2p port, reopened as the target closes them
  const sockets = new Set<Socket>();
  const tcp = /\/ip4\/([^/]+)\/tcp\/(\d+)/.exec(cfg.target);
  const holdSocket = () => {
    if (finished() || !tcp) return;
    const s = connect(Number(tcp[2]), tcp[1] as string);
    c.socketsOpened += 1;
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => {
      sockets.delete(s);
      setTimeout(holdSocket, 200);
    });
  };
  for (let i = 0; i < cfg.heldSockets; i++) holdSocket();

  const progress = setInterval(() => {
    c.seconds = (performance.now() - started) / 1000;
    emit({ event: 'progress', ...c, heldSockets: sockets.size });
  }, cfg.progressMs);
  await Promise.all([...Array.from({ length: cfg.lanes }, fuzzLane), tinyPacks(), headSpam(), floods(), drip(), drip()]);
  clearInterval(progress);
  for (const s of sockets) s.destroy();
  c.seconds = (performance.now() - started) / 1000;
  emit({ event: 'done', ...c });
}

// run as a program: config in argv[2], events on stdout; the attack starts at the first line on
// stdin, and the program ends when stdin closes
if (process.argv[1]?.endsWith('hostile-peer.js') && process.argv[2]) {
  const cfg = JSON.parse(process.argv[2]) as HostileConfig;
  let stop = false;
  const go = new Promise<void>((res) => process.stdin.once('data', () => res()));
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('close', () => process.exit(0));
  process.stdin.resume();
  process.on('SIGTERM', () => {
    stop = true;
    process.exit(0);
  });
  await runHostile(
    cfg,
    (e) => process.stdout.write(`${JSON.stringify(e)}\n`),
    () => stop,
    go,
  ).catch((err: unknown) => {
    process.stdout.write(`${JSON.stringify({ event: 'error', message: (err as Error).stack ?? String(err) })}\n`);
    process.exit(1);
  });
}
