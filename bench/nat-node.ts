// A mesh node (agent/src/mesh/node.ts from dist/, with the direct upgrade and the STUN responder of
// a running agent) in a process of its own, driven over stdin: the NAT tests' connection trials
// (agent/test/helpers/natlab-mesh-node.ts) and the NAT benchmark (bench/nat.ts) run it in network
// namespaces. Each command is a JSON line with an id; each answer a JSON line with that id. The
// node comes from dist/ (`npm run build`).
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { createInterface } from 'node:readline';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { peerKeyFromSeed } from '../agent/src/mesh/node.js';

/** The test protocol: the dialler sends a byte count, then that many bytes; the node answers "ok" once all arrived. */
export const SINK_PROTOCOL = '/cairn-test/sink/1.0.0';
const COMMAND_TIMEOUT_MS = 300_000;

export const MESH_NODE_SCRIPT = `
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
const dist = process.cwd() + '/dist/agent/src/mesh/';
const { createMeshNode, peerKeyFromSeed } = await import(dist + 'node.js');
const { relayControl } = await import(dist + 'relay.js');
const { DirectUpgrade } = await import(dist + 'direct-upgrade.js');
const { StunResponder } = await import(dist + 'stun-server.js');
const { tcpListenEndpoints } = await import(dist + 'webrtc.js');
const { linkOf } = await import(dist + 'relayed-addrs.js');
const { reachOf } = await import(dist + 'reachability.js');
const { multiaddr } = await import('@multiformats/multiaddr');
const { peerIdFromString } = await import('@libp2p/peer-id');
const { lpStream } = await import('@libp2p/utils');
const cfg = JSON.parse(process.argv[1]);
const friends = new Set(cfg.friends);
const privateKey = await peerKeyFromSeed(Buffer.from(cfg.seed, 'hex'));
// meterRelay: the relay meters what it carries per friend as a running agent's does (relay-budget.ts), with no limits
const { RelayBudget } = await import(dist + 'relay-budget.js');
const relayBudget = cfg.meterRelay ? new RelayBudget({ bytesPerSec: 0, bytesPerDay: 0 }, { now: () => Date.now() }) : undefined;
const node = await createMeshNode({
  privateKey, listen: [cfg.listen], admit: (p) => friends.has(p.toString()) || cfg.inviteOpen === true,
  relay: { isFriend: (p) => friends.has(p.toString()), inviteOpen: () => cfg.inviteOpen === true },
  ...(relayBudget ? { relayBudget } : {}),
});
const upgrade = new DirectUpgrade(node, (id) => friends.has(id), { log: (l) => process.stderr.write(l + '\\n'), ...(cfg.upgrade ?? {}) });
// autoUpgrade false: relayed connections stay relayed (the benchmark's relayed rows); 'connect' still upgrades when asked
if (cfg.autoUpgrade !== false) await upgrade.start();
const stun = new StunResponder({ endpoints: () => tcpListenEndpoints(node), allow: () => true, clock: { now: () => Date.now() } });
await stun.start();
await node.handle('${SINK_PROTOCOL}', async (stream) => {
  const lp = lpStream(stream);
  const want = Number(new TextDecoder().decode((await lp.read()).subarray()));
  let got = 0;
  while (got < want) got += (await lp.read()).byteLength;
  await lp.write(new TextEncoder().encode('ok'));
  await stream.close();
}, { runOnLimitedConnection: false });
const links = (peer) => node.getConnections(peer).filter((c) => c.status === 'open').map((c) => linkOf(c.remoteAddr));
const until = async (ms, fn) => { const end = Date.now() + ms; while (Date.now() < end) { if (fn()) return true; await sleep(25); } return fn(); };
const commands = {
  addrs: async () => node.getMultiaddrs().map(String),
  know: async ({ peer, addrs }) => { await node.peerStore.merge(peerIdFromString(peer), { multiaddrs: addrs.map((a) => multiaddr(a)) }); },
  dial: async ({ addr }) => { const c = await node.dial(multiaddr(addr), { signal: AbortSignal.timeout(15000) }); return linkOf(c.remoteAddr); },
  reserve: async ({ relay, addr }) => {
    await relayControl(node).reserve(peerIdFromString(relay), multiaddr(addr));
    await until(15000, () => node.getMultiaddrs().some((a) => String(a).includes('/webrtc')));
    return node.getMultiaddrs().map(String);
  },
  // dials the friend's relayed address, then waits for the upgrade (at most deadlineMs) and for a
  // direct link (at most windowMs after the dial): the outcome, and when each was seen
  connect: async ({ peer, addr, deadlineMs, windowMs }) => {
    const p = peerIdFromString(peer);
    const t0 = Date.now();
    const c = await node.dial(multiaddr(addr), { signal: AbortSignal.timeout(15000) });
    const first = linkOf(c.remoteAddr);
    if (cfg.autoUpgrade === false) await upgrade.start();
    const outcome = await Promise.race([upgrade.upgrade(p), sleep(deadlineMs).then(() => 'deadline')]);
    const settledMs = Date.now() - t0;
    const direct = await until(Math.max(0, windowMs - (Date.now() - t0)), () => links(p).some((l) => l !== 'relayed'));
    return { first, outcome, settledMs, directMs: direct ? Date.now() - t0 : null, links: links(p), reach: reachOf(node, peer).reach };
  },
  webrtcDial: async ({ addr }) => {
    try { const c = await node.dial(multiaddr(addr), { signal: AbortSignal.timeout(15000), force: true }); return linkOf(c.remoteAddr); }
    catch (e) { return 'refused: ' + (e?.message ?? String(e)); }
  },
  links: async ({ peer }) => links(peerIdFromString(peer)),
  hangup: async ({ peer }) => {
    const p = peerIdFromString(peer);
    // an upgrade under way would connect again
    await upgrade.settled();
    await node.hangUp(p).catch(() => undefined);
    return until(10000, () => links(p).length === 0);
  },
  // sends bytes on a new stream, as the mesh opens them (libp2p picks the connection)
  sink: async ({ peer, bytes }) => {
    const conn = await node.dial(peerIdFromString(peer), { signal: AbortSignal.timeout(15000) });
    const stream = await conn.newStream('${SINK_PROTOCOL}', { signal: AbortSignal.timeout(15000) });
    const lp = lpStream(stream);
    const t0 = performance.now();
    await lp.write(new TextEncoder().encode(String(bytes)));
    const chunk = new Uint8Array(64 * 1024);
    for (let sent = 0; sent < bytes; sent += chunk.length) await lp.write(chunk.subarray(0, Math.min(chunk.length, bytes - sent)));
    // at least 1 MB/s, at least a minute
    const ok = new TextDecoder().decode((await lp.read({ signal: AbortSignal.timeout(Math.max(60000, Math.ceil(bytes / 1000))) })).subarray());
    const elapsedMs = performance.now() - t0;
    await stream.close();
    return { ok, link: linkOf(conn.remoteAddr), elapsedMs };
  },
  stunAnswered: async () => stun.answered,
  // CPU time this process used so far (user + system), in microseconds
  cpu: async () => { const u = process.cpuUsage(); return u.user + u.system; },
};
const rl = createInterface({ input: process.stdin });
rl.on('line', async (line) => {
  const { id, cmd, ...args } = JSON.parse(line);
  try { process.stdout.write(JSON.stringify({ id, ok: true, value: await commands[cmd](args) }) + '\\n'); }
  catch (e) { process.stdout.write(JSON.stringify({ id, ok: false, error: (e?.name ?? 'Error') + ': ' + (e?.message ?? String(e)) }) + '\\n'); }
});
rl.on('close', async () => { await upgrade.stop(); await stun.stop(); await node.stop(); process.exit(0); });
process.stdout.write(JSON.stringify({ id: 0, ok: true, value: node.peerId.toString() }) + '\\n');
`;

export interface ConnectResult {
  /** The link the dial itself made ('relayed'). */
  first: string;
  /** What the upgrade ended with ('webrtc', 'direct', 'relayed'), or 'deadline' when it had not ended by then. */
  outcome: string;
  settledMs: number;
  /** When a direct (TCP or WebRTC) link was first seen, ms after the dial began; null if not within the window. */
  directMs: number | null;
  links: string[];
  reach: string;
}

/** Starts `cmd args` somewhere (a namespace); returns the child. */
export type Spawner = (cmd: string, args: string[], opts: SpawnOptions) => ChildProcess;

export class MeshNodeProcess {
  readonly host: string;
  readonly peerId: string;
  readonly listen: string;
  private readonly proc: ChildProcess;
  private readonly waiting = new Map<number, (v: { ok: boolean; value?: unknown; error?: string }) => void>();
  private nextId = 1;
  private errText = '';

  private constructor(host: string, peerId: string, listen: string, proc: ChildProcess) {
    this.host = host;
    this.peerId = peerId;
    this.listen = listen;
    this.proc = proc;
  }

  /** The PeerId a node started with `seed` has. */
  static async peerIdOf(seed: Buffer): Promise<string> {
    return peerIdFromPrivateKey(await peerKeyFromSeed(seed)).toString();
  }

  static async start(
    spawner: Spawner,
    root: string,
    host: string,
    opts: {
      seed: Buffer;
      listen: string;
      friends: string[];
      upgrade?: Record<string, number>;
      inviteOpen?: boolean;
      autoUpgrade?: boolean;
      /** Meter the relay as an agent does (relay-budget.ts, no limits). */
      meterRelay?: boolean;
      /** Options for node itself before the script (e.g. --cpu-prof). */
      nodeArgs?: string[];
    },
  ): Promise<MeshNodeProcess> {
    const cfg = JSON.stringify({
      seed: opts.seed.toString('hex'),
      listen: opts.listen,
      friends: opts.friends,
      upgrade: opts.upgrade ?? {},
      inviteOpen: opts.inviteOpen ?? false,
      autoUpgrade: opts.autoUpgrade ?? true,
      meterRelay: opts.meterRelay ?? false,
    });
    const proc = spawner(process.execPath, [...(opts.nodeArgs ?? []), '--input-type=module', '-e', MESH_NODE_SCRIPT, cfg], {
      cwd: root,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let err = '';
    proc.stderr?.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-20_000)));
    const lines = createInterface({ input: proc.stdout! });
    const first = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`[${host}] mesh node did not start within 60 s: ${err}`)), 60_000);
      lines.once('line', (l) => {
        clearTimeout(t);
        resolve(l);
      });
      proc.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`[${host}] mesh node exited ${code}: ${err}`));
      });
    });
    const node = new MeshNodeProcess(host, (JSON.parse(first) as { value: string }).value, opts.listen, proc);
    proc.stderr?.on('data', (b: Buffer) => (node.errText = (node.errText + b.toString()).slice(-20_000)));
    lines.on('line', (l) => {
      const msg = JSON.parse(l) as { id: number; ok: boolean; value?: unknown; error?: string };
      node.waiting.get(msg.id)?.(msg);
      node.waiting.delete(msg.id);
    });
    return node;
  }

  /** Its log (stderr): the upgrades that failed, and why. */
  log(): string {
    return this.errText;
  }

  async call<T>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    const answer = new Promise<{ ok: boolean; value?: unknown; error?: string }>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`[${this.host}] ${cmd}: no answer within ${COMMAND_TIMEOUT_MS} ms\n${this.errText}`)), COMMAND_TIMEOUT_MS);
      this.waiting.set(id, (v) => {
        clearTimeout(t);
        resolve(v);
      });
    });
    this.proc.stdin!.write(JSON.stringify({ id, cmd, ...args }) + '\n');
    const r = await answer;
    if (!r.ok) throw new Error(`[${this.host}] ${cmd} failed: ${r.error}\n${this.errText.slice(-4000)}`);
    return r.value as T;
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.stdin!.end();
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}
