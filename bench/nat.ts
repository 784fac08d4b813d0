// The NAT part of `npm run bench` (issue 18 item 9; CAIRN_BENCH_ONLY=nat): how fast friends' links
// are when they do not go straight over TCP. Three mesh nodes as the agent builds them
// (bench/nat-node.ts: node.ts with WebRTC, the direct upgrade, the STUN responder) each in a network
// namespace of its own on one bridge (bench/netns.ts createBridgeLab): alice, bob and pub, pub
// relaying for its friends. Between the same two namespaces (alice -> bob), the same bytes go
// (a) over a direct TCP connection, (b) through pub's relay (circuit relay v2, no limits), and
// (c) over WebRTC (signalled over pub's relay, then UDP between the two): each as one stream of
// CAIRN_BENCH_NAT_BYTES (default 256 MiB) on the connection libp2p picks, as replication's streams
// are, best of three. Rows: the relay as a share of direct TCP (target 40%), WebRTC as a share of
// direct TCP (reported; aim 75%). No NAT sits in the path: a kernel NAT costs nothing measurable
// here, and without it direct TCP is possible between the same two namespaces, which is the
// comparison asked for. Needs root and iproute2; otherwise the section says why it was skipped.
// Each sample also records the CPU-seconds of alice, bob and pub (they share the machine's cores,
// so a rate here is bounded by their sum), and CAIRN_BENCH_NAT_CPU_PROF=<dir> writes pub's V8 CPU
// profile there. Where the relay's time went (64 MiB samples, 2026-12-05, 2 shared cores): pub
// spent 1.4-3.2 CPU-s per 67 MB relayed (direct: bob 0.25-0.64); of its busy profile samples,
// Noise 68% inclusive (ChaCha20-Poly1305 19%, the socket writes below it 32%), yamux 52%
// inclusive, GC 16%; the relay budget's metering 0.4% and the relay server's glue 0.5%. strace of
// pub: 86% of its write() calls were under 100 bytes (Noise writes each 2-byte length prefix on
// its own, and yamux 8 answers every data frame with a window update, on both the outer and the
// relayed inner connection), i.e. about ten small writes per 64 KiB forwarded. bob too does twice
// the work of a direct link (two Noise and two yamux layers). None of that is Cairn's code; the
// node's wiring now sends each Noise batch as one buffer (mesh/write-coalescing.ts) and yamux
// window updates per half window (mesh/yamux-window.ts): write(2) calls per 64 KiB relayed, the
// three nodes together, 27 -> 2.5 (strace); pub's busy profile samples over the same bench -15%,
// its socket writes -43%. What is left at pub per relayed byte (profile, 12:17, load ~20): native
// socket writes ~20%, GC ~16%, ChaCha20-Poly1305 ~13%, buffer copies ~7% (Noise copies each
// received message whole before decrypting it, and the coalescing copies each batch), the rest
// libp2p's per-message JS (yamux, Noise, events, the relay's pipe).
import { randomBytes } from 'node:crypto';
import { MeshNodeProcess } from './nat-node.js';
import { createBridgeLab, netnsUnavailable, removeBridgeLab, type BridgeLab } from './netns.js';
import { escape, MB, MIB, existingMarked, mergeMarked } from './report.js';

export const NAT_BEGIN = '<!-- nat:begin (bench/nat.ts) -->';
export const NAT_END = '<!-- nat:end -->';
const DEFAULT_BYTES = 256 * MIB;
const SAMPLES = 3;
const PORT = 4001;
const RELAY_TARGET = 0.4;
const WEBRTC_AIM = 0.75;

export interface NatReport {
  startedAt: Date;
  bytes: number;
  /** Best MB/s per path, null when it could not be measured. */
  direct: number | null;
  relayed: number | null;
  webrtc: number | null;
  samples: Record<'direct' | 'relayed' | 'webrtc', number[]>;
  /** CPU-seconds (user + system) each process used during each sample, in the order of `samples`. */
  cpu: Record<'direct' | 'relayed' | 'webrtc', CpuSeconds[]>;
  skipped: string | null;
  error: string | null;
}

export function natBytes(env: NodeJS.ProcessEnv): number {
  const v = env.CAIRN_BENCH_NAT_BYTES;
  if (v === undefined || v === '') return DEFAULT_BYTES;
  const m = /^(\d+)([KMG]?)$/.exec(v.trim());
  if (!m) throw new Error(`CAIRN_BENCH_NAT_BYTES: expected a byte count with an optional K, M or G suffix, got ${v}`);
  return Number(m[1]) * { '': 1, K: 1024, M: MIB, G: 1024 * MIB }[m[2] as '' | 'K' | 'M' | 'G'];
}

type Sink = { ok: string; link: string; elapsedMs: number };
type Proc = 'alice' | 'bob' | 'pub';
export type CpuSeconds = Record<Proc, number>;
type Path = 'direct' | 'relayed' | 'webrtc';

/** The sample with the best rate of a path, and the CPU-seconds its processes used. */
export function bestSample(r: NatReport, path: Path): { mbps: number; cpu: CpuSeconds | null } | null {
  const xs = r.samples[path];
  if (xs.length === 0) return null;
  const i = xs.indexOf(Math.max(...xs));
  return { mbps: xs[i] as number, cpu: r.cpu[path][i] ?? null };
}

/** MB per CPU-second of the busiest process: the rate the path would reach if each process had a core of its own and nothing else cost time. */
export function mbPerBusiestCpuSecond(bytes: number, cpu: CpuSeconds): number {
  return bytes / MB / Math.max(cpu.alice, cpu.bob, cpu.pub);
}

export async function runNatBench(root: string, env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<NatReport> {
  const report: NatReport = {
    startedAt: new Date(),
    bytes: natBytes(env),
    direct: null,
    relayed: null,
    webrtc: null,
    samples: { direct: [], relayed: [], webrtc: [] },
    cpu: { direct: [], relayed: [], webrtc: [] },
    skipped: null,
    error: null,
  };
  const why = await netnsUnavailable();
  if (why !== null) {
    report.skipped = why;
    return report;
  }
  let lab: BridgeLab | undefined;
  const nodes: MeshNodeProcess[] = [];
  try {
    lab = await createBridgeLab(['alice', 'bob', 'pub']);
    const seeds = { alice: randomBytes(32), bob: randomBytes(32), pub: randomBytes(32) };
    const ids = {
      alice: await MeshNodeProcess.peerIdOf(seeds.alice),
      bob: await MeshNodeProcess.peerIdOf(seeds.bob),
      pub: await MeshNodeProcess.peerIdOf(seeds.pub),
    };
    const l = lab;
    // CAIRN_BENCH_NAT_CPU_PROF=<dir>: pub writes a V8 CPU profile there when it stops (node --cpu-prof)
    const profDir = env.CAIRN_BENCH_NAT_CPU_PROF;
    const start = (name: Proc) =>
      MeshNodeProcess.start((cmd, args, o) => l.spawn(name, cmd, args, o), root, name, {
        seed: seeds[name],
        listen: `/ip4/${l.addressOf(name)}/tcp/${PORT}`,
        friends: Object.values(ids).filter((id) => id !== ids[name]),
        // the relayed samples must stay relayed: upgrades happen only when asked
        autoUpgrade: false,
        // pub meters what it relays per friend, as an agent's relay does (no limits here)
        meterRelay: name === 'pub',
        ...(name === 'pub' && profDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`] } : {}),
      });
    // each node is stopped at the end even when a later one fails to start
    const started = async (name: Proc) => {
      const n = await start(name);
      nodes.push(n);
      return n;
    };
    const [alice, bob, pub] = [await started('alice'), await started('bob'), await started('pub')];
    const pubAddr = `/ip4/${lab.addressOf('pub')}/tcp/${PORT}`;
    const bobTcp = `/ip4/${lab.addressOf('bob')}/tcp/${PORT}/p2p/${ids.bob}`;
    const bobRelayed = `${pubAddr}/p2p/${ids.pub}/p2p-circuit/p2p/${ids.bob}`;
    for (const n of [alice, bob]) await n.call('dial', { addr: `${pubAddr}/p2p/${ids.pub}` });
    await bob.call('reserve', { relay: ids.pub, addr: pubAddr });
    const hangUp = async () => {
      await alice.call('hangup', { peer: ids.bob });
      await bob.call('hangup', { peer: ids.alice });
    };
    const sample = async (path: 'direct' | 'relayed' | 'webrtc'): Promise<void> => {
      await hangUp();
      if (path === 'direct') await alice.call('dial', { addr: bobTcp });
      else if (path === 'relayed') await alice.call('dial', { addr: bobRelayed });
      else await alice.call('webrtcDial', { addr: `${pubAddr}/p2p/${ids.pub}/p2p-circuit/webrtc/p2p/${ids.bob}` });
      const links = await alice.call<string[]>('links', { peer: ids.bob });
      if (!links.includes(path)) throw new Error(`alice -> bob ${path}: got links ${links.join(', ') || 'none'}`);
      const cpuNow = async (): Promise<CpuSeconds> => {
        const [a, b, p] = await Promise.all([alice, bob, pub].map((n) => n.call<number>('cpu')));
        return { alice: (a as number) / 1e6, bob: (b as number) / 1e6, pub: (p as number) / 1e6 };
      };
      const before = await cpuNow();
      const s = await alice.call<Sink>('sink', { peer: ids.bob, bytes: report.bytes });
      const after = await cpuNow();
      if (s.ok !== 'ok' || s.link !== path) throw new Error(`alice -> bob ${path}: the stream went ${s.link} (${s.ok})`);
      const mbps = report.bytes / MB / (s.elapsedMs / 1000);
      const cpu = { alice: after.alice - before.alice, bob: after.bob - before.bob, pub: after.pub - before.pub };
      report.samples[path].push(mbps);
      report.cpu[path].push(cpu);
      log(`nat: ${path} ${mbps.toFixed(1)} MB/s; CPU-s alice ${cpu.alice.toFixed(2)}, bob ${cpu.bob.toFixed(2)}, pub ${cpu.pub.toFixed(2)}`);
    };
    for (let i = 0; i < SAMPLES; i++) for (const path of ['direct', 'relayed', 'webrtc'] as const) await sample(path);
    const best = (xs: number[]) => (xs.length > 0 ? Math.max(...xs) : null);
    report.direct = best(report.samples.direct);
    report.relayed = best(report.samples.relayed);
    report.webrtc = best(report.samples.webrtc);
  } catch (err) {
    report.error = err instanceof Error ? err.message : String(err);
  } finally {
    for (const n of nodes) await n.stop();
    if (lab) await removeBridgeLab(lab);
  }
  return report;
}

export function renderNatSection(r: NatReport, info: { command: string; machine: string }): string {
  const share = (x: number | null) => (x !== null && r.direct !== null && r.direct > 0 ? x / r.direct : null);
  const fmt = (x: number | null) => (x === null ? 'n/a' : `${x.toFixed(1)} MB/s`);
  const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(0)}%`);
  const relayShare = share(r.relayed);
  const webrtcShare = share(r.webrtc);
  const cpuShare = (path: 'relayed' | 'webrtc'): number | null => {
    const d = bestSample(r, 'direct')?.cpu;
    const x = bestSample(r, path)?.cpu;
    return d && x ? mbPerBusiestCpuSecond(r.bytes, x) / mbPerBusiestCpuSecond(r.bytes, d) : null;
  };
  const lines = [
    NAT_BEGIN,
    '## Friends behind NAT: relay and WebRTC against direct TCP',
    '',
    `Generated by \`npm run bench\` (bench/nat.ts) on ${r.startedAt.toISOString()}; do not edit by hand.`,
    '',
    `- **Command:** \`${info.command}\``,
    `- **Machine:** ${info.machine}`,
    `- **Setup:** mesh nodes as the agent builds them (bench/nat-node.ts, from dist/), alice, bob and pub, each in a network namespace of its own on one bridge (bench/netns.ts). ${(r.bytes / MIB).toFixed(0)} MiB (\`CAIRN_BENCH_NAT_BYTES\`) alice -> bob on one stream of the connection libp2p picks, ${SAMPLES} samples per path, best counts; alice's node writes length-prefixed 64 KiB chunks, bob's answers once all arrived.`,
    '',
  ];
  if (r.skipped !== null) lines.push(`**Skipped:** ${escape(r.skipped)}`, '');
  if (r.error !== null) lines.push(`**The NAT benchmark failed:** ${escape(r.error)}`, '');
  lines.push(
    '| metric | value | target | met? |',
    '|---|---:|---|---|',
    `| direct TCP (alice -> bob) | ${fmt(r.direct)} | | |`,
    `| through pub's relay (circuit relay v2) | ${fmt(r.relayed)} | | |`,
    `| WebRTC (signalled over pub's relay) | ${fmt(r.webrtc)} | | |`,
    `| relay as a share of direct TCP | ${pct(relayShare)} | at least ${RELAY_TARGET * 100}% | ${relayShare === null ? '' : relayShare >= RELAY_TARGET ? 'met' : '**not met**'} |`,
    `| WebRTC as a share of direct TCP | ${pct(webrtcShare)} | report (aim ${WEBRTC_AIM * 100}%) | ${webrtcShare === null ? '' : webrtcShare >= WEBRTC_AIM ? 'met' : 'below the aim'} |`,
    '',
    "CPU per path (the best sample; alice, bob and pub share the machine's cores, so the rates above are also bounded by their sum):",
    '',
    '| path | CPU-s alice | CPU-s bob | CPU-s pub | pub CPU-s per 100 MB | MB per CPU-second of the busiest process |',
    '|---|---:|---:|---:|---:|---:|',
    ...(['direct', 'relayed', 'webrtc'] as const).map((path) => {
      const b = bestSample(r, path);
      if (!b?.cpu) return `| ${path} | n/a | n/a | n/a | n/a | n/a |`;
      const c = b.cpu;
      return `| ${path} | ${c.alice.toFixed(2)} | ${c.bob.toFixed(2)} | ${c.pub.toFixed(2)} | ${((c.pub / (r.bytes / MB)) * 100).toFixed(2)} | ${mbPerBusiestCpuSecond(r.bytes, c).toFixed(1)} |`;
    }),
    '',
    `Relay as a share of direct TCP by CPU (MB per CPU-second of the busiest process, what each path would carry with a core per process): ${pct(cpuShare('relayed'))}; WebRTC: ${pct(cpuShare('webrtc'))}.`,
    '',
    `Samples (MB/s): direct ${r.samples.direct.map((x) => x.toFixed(1)).join(', ') || '-'}; relayed ${r.samples.relayed.map((x) => x.toFixed(1)).join(', ') || '-'}; WebRTC ${r.samples.webrtc.map((x) => x.toFixed(1)).join(', ') || '-'}.`,
    '',
    "- MB = 10^6 bytes. Time runs from the first byte written to the answer that all arrived. These are bare streams as replication opens them (Noise+Yamux over TCP or the relay; DTLS+SCTP data channels for WebRTC), not whole replication rounds: the packs' own work (reading, hashing, fsync, LevelDB) is the same on every path and is measured in the friend-mesh section.",
    "- Every relayed byte crosses pub twice (in and out), on the same machine here; over the Internet that is the relay owner's uplink. pub meters what it relays per friend as an agent's relay does (relay-budget.ts), with no rate or daily limit (an agent's default is 4 MiB/s per friend).",
    '- CPU-seconds: user + system time of each node process (process.cpuUsage) from just before the first byte to the answer; a relayed byte is decrypted and encrypted again at pub (Noise on both connections) and framed by two yamux sessions.',
    NAT_END,
  );
  return lines.join('\n');
}

/** Replaces the NAT section of an existing report (or appends it). */
export function mergeNatSection(existing: string, section: string): string {
  return mergeMarked(existing, NAT_BEGIN, NAT_END, section);
}

/** The NAT section of an existing report, to carry over when the engine part rewrites the report. */
export function existingNatSection(existing: string | null): string | null {
  return existingMarked(existing, NAT_BEGIN, NAT_END);
}
