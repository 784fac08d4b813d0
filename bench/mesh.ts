// The friend-mesh part of `npm run bench`: real agents (`cairn agent`, one process each) on loopback.
//
// (a) alice backs up DATA of incompressible bytes; bob, carol and dave in turn pair with her, and
//     `cairn replicate --wait` (through alice's agent, --replicas 3) pushes every pack to the new
//     friend: MB/s, three samples.
// (b) just before each replication, between the same two agent processes, a bare Noise+Yamux
//     stream to the friend's bench sink (/cairn/bench-sink/1.0.0, API op benchStream; agents are
//     the bench's own, bench/sink/agent.ts): once with the packs' flow control (Frames.sendWindowed: 1 MiB
//     frames, 3 unacknowledged), once raw (stream.send + onDrain, no acknowledgements), and once
//     "stored": windowed, alice reading her pack files and the friend hashing, writing and
//     fsyncing what arrives (replication's unavoidable work without its per-pack protocol).
// (c) every friend now holds every pack; alice's local packs are deleted and `cairn restore
//     latest` runs through her agent with all three friends up, then again with carol and dave
//     stopped: each with the friends' links unlimited and with each friend's uplink limited
//     (bench/netns.ts: every friend runs in a network namespace of its own, joined to the host by
//     a veth pair; without root or iproute2 all agents share loopback and the limited runs are
//     skipped).
//
// Environment: CAIRN_BENCH_MESH_BYTES data size (bytes, or with K/M/G suffix = KiB/MiB/GiB;
// default 1G), CAIRN_BENCH_MESH_SEED PRNG seed (default 1), CAIRN_BENCH_MESH_UPLINK each friend's
// uplink for the limited restores (a tc rate; default 250mbit), CAIRN_BENCH_MESH_NETNS=0 keeps every
// agent on loopback.
import { spawn, type ChildProcess } from 'node:child_process';
import { open, readFile, rm, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { treeStats, type TreeStats } from './dataset.js';
import { busyCpuSeconds, CommandError, describeFailure, run, runOk, waitForQuiet, type RunResult } from './exec.js';
import { createFriendLinks, netnsUnavailable, removeFriendLinks, setUplinkRate, type FriendLink } from './netns.js';
import { commandRow, escape, MB, MIB, existingMarked, mergeMarked } from './report.js';
import type { CommandRecord } from './results.js';
import { BENCH_PASSPHRASE } from './tools.js';

export const MESH_BEGIN = '<!-- mesh:begin (bench/mesh.ts) -->';
export const MESH_END = '<!-- mesh:end -->';
const DEFAULT_BYTES = 1024 * MIB;
const FILE_BYTES = 64 * MIB;
const QUOTA = '1T';
/** Share of the bare stream replication must reach (issue 4, must-hold 6). */
const REPLICATION_TARGET = 0.75;
/** How much faster restoring from three friends must be than from one. */
const RESTORE_SPEEDUP_TARGET = 1.5;
const WARMUP_BYTES = 32 * MIB;
const FRIENDS = ['bob', 'carol', 'dave'];
const DEFAULT_UPLINK = '250mbit';

export interface MeshConfig {
  root: string;
  workDir: string;
  quietWaitS: number;
  quietBusyCores: number;
  log(text: string): void;
}

interface AgentInfo {
  api: string;
  token: string;
  pid: number;
  peerId: string;
  addrs: string[];
}

interface BenchAgent {
  name: string;
  home: string;
  proc: ChildProcess;
  info: AgentInfo;
  output(): string;
}

interface Row {
  label: string;
  value: string;
  target?: string;
  met?: boolean;
}

export interface MeshReport {
  startedAt: Date;
  dataBytes: number;
  files: number;
  /** Each friend's uplink in the limited restores, or why friends shared loopback instead. */
  links: { uplink: string } | { unavailable: string };
  rows: Row[];
  commands: CommandRecord[];
  notes: string[];
  error: string | null;
}

export function meshDataBytes(env: NodeJS.ProcessEnv): number {
  const text = (env.CAIRN_BENCH_MESH_BYTES ?? '').trim();
  if (text === '') return DEFAULT_BYTES;
  const m = /^(\d+(?:\.\d+)?)\s*([KMG]?)(?:i?B)?$/i.exec(text);
  if (!m) throw new Error(`CAIRN_BENCH_MESH_BYTES=${text}: expected bytes or a size like 256M or 1G`);
  const unit = { '': 1, K: 1024, M: MIB, G: 1024 * MIB }[(m[2] ?? '').toUpperCase()] ?? 1;
  return Math.floor(Number(m[1]) * unit);
}

/**
 * Incompressible files from one xorshift32 stream (period 2^32 - 1 words = 16 GiB, so no two
 * chunks of a data set below that repeat): fast, seeded, reproducible, not cryptographic.
 */
export async function generateData(dir: string, total: number, seed: number): Promise<number> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  let x = seed >>> 0 || 1;
  const buf = new Uint32Array((16 * MIB) / 4);
  const bytes = new Uint8Array(buf.buffer);
  let files = 0;
  for (let written = 0; written < total; files++) {
    const size = Math.min(FILE_BYTES, total - written);
    const fh = await open(join(dir, `random-${String(files).padStart(4, '0')}.bin`), 'w');
    try {
      for (let off = 0; off < size; off += bytes.length) {
        for (let i = 0; i < buf.length; i++) {
          x ^= x << 13;
          x ^= x >>> 17;
          x ^= x << 5;
          buf[i] = x;
        }
        const len = Math.min(bytes.length, size - off);
        let done = 0;
        while (done < len) done += (await fh.write(bytes, done, len - done)).bytesWritten;
      }
    } finally {
      await fh.close();
    }
    written += size;
  }
  return files;
}

/** Peak RSS of a live process since the last reset (VmHWM), in bytes. */
async function peakRss(pid: number): Promise<number | null> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kib = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
  return kib === undefined ? null : Number(kib) * 1024;
}

/** User + system CPU seconds a live process has used (/proc/PID/stat; USER_HZ 100). */
async function processCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / 100;
}

/** Resets VmHWM to the current RSS (`echo 5 > /proc/PID/clear_refs`); false when not allowed. */
async function resetPeakRss(pid: number): Promise<boolean> {
  return writeFile(`/proc/${pid}/clear_refs`, '5').then(
    () => true,
    () => false,
  );
}

export async function runMeshBench(cfg: MeshConfig, env: NodeJS.ProcessEnv): Promise<MeshReport> {
  const startedAt = new Date();
  const dataBytes = meshDataBytes(env);
  const seed = Number(env.CAIRN_BENCH_MESH_SEED ?? '1');
  const W = join(cfg.workDir, 'mesh');
  const bin = join(cfg.root, 'bin', 'cairn.js');
  const sinkAgent = join(cfg.root, 'dist', 'bench', 'sink', 'agent.js');
  const uplink = (env.CAIRN_BENCH_MESH_UPLINK ?? '').trim() || DEFAULT_UPLINK;
  const report: MeshReport = { startedAt, dataBytes, files: 0, links: { uplink }, rows: [], commands: [], notes: [], error: null };
  const rows = report.rows;
  const agents = new Map<string, BenchAgent>();
  let links: FriendLink[] = [];
  const linkOf = (name: string) => links.find((l) => l.name === name);
  /** A friend's processes run in its namespace (its API listens on that namespace's loopback). */
  const inLink = (name: string, argv: string[]): [string, string[]] => {
    const l = linkOf(name);
    return l ? ['ip', ['netns', 'exec', l.ns, ...argv]] : [argv[0] as string, argv.slice(1)];
  };
  const homeOf = (name: string) => join(W, name, 'home');
  const cliEnv = (name: string) => ({ CAIRN_HOME: homeOf(name), CAIRN_PASSPHRASE: BENCH_PASSPHRASE });
  const cli = (name: string, args: string[]) => runOk(...inLink(name, [process.execPath, bin, ...args]), { env: cliEnv(name), cwd: cfg.root });
  const mbps = (bytes: number, seconds: number) => bytes / MB / seconds;
  const mib = (b: number | null) => (b === null ? '?' : (b / MIB).toFixed(0));

  const quiet = async () => {
    await runOk('sync', []);
    if (cfg.quietWaitS <= 0) return;
    const q = await waitForQuiet(cfg.quietBusyCores, cfg.quietWaitS * 1000);
    if (!q.quiet) cfg.log(`machine still busy (${q.busyCores.toFixed(2)} cores) after waiting ${q.waitedSeconds.toFixed(0)} s; measuring anyway`);
  };
  const record = (
    step: string,
    r: Pick<RunResult, 'command' | 'seconds' | 'peakRssBytes' | 'cpuSeconds' | 'otherCpuSeconds'>,
    ok: boolean,
    error: string | null,
  ) => {
    report.commands.push({
      tool: 'mesh',
      step,
      command: r.command,
      seconds: r.seconds,
      peakRssBytes: r.peakRssBytes,
      cpuSeconds: r.cpuSeconds,
      otherCpuSeconds: r.otherCpuSeconds,
      ok,
      error,
    });
  };
  /**
   * CPU accounting around a measured piece of work: the agents' CPU seconds are added to the
   * command's own ("CPU s") and taken out of "other CPU s", which then means processes outside
   * the benchmark.
   */
  const cpuMeter = async () => {
    const pids = [...agents.values()].map((a) => a.info.pid);
    const sum = async () => (await Promise.all(pids.map(processCpuSeconds))).reduce((x, y) => x + y, 0);
    const agentsBefore = await sum();
    const busyBefore = await busyCpuSeconds();
    return async (ownCpu: number | null): Promise<{ cpuSeconds: number | null; otherCpuSeconds: number | null }> => {
      const agentCpu = (await sum()) - agentsBefore;
      const busyAfter = await busyCpuSeconds();
      const cpu = agentCpu + (ownCpu ?? 0);
      return { cpuSeconds: cpu, otherCpuSeconds: busyBefore === null || busyAfter === null ? null : Math.max(0, busyAfter - busyBefore - cpu) };
    };
  };
  /** A measured CLI command: sync, idle wait, then timed; recorded either way. */
  const measuredCli = async (step: string, name: string, args: string[]): Promise<RunResult> => {
    await quiet();
    cfg.log(`mesh: ${step}...`);
    const meter = await cpuMeter();
    const r = await run(process.execPath, [bin, ...args], { env: cliEnv(name), cwd: cfg.root });
    const display = { ...r, ...(await meter(r.cpuSeconds)), command: `CAIRN_HOME=$WORK/mesh/${name}/home cairn ${args.join(' ')}` };
    if (r.code !== 0) {
      record(step, display, false, describeFailure(r));
      throw new CommandError(r);
    }
    record(step, display, true, null);
    cfg.log(`mesh: ${step} ${r.seconds.toFixed(2)} s`);
    return r;
  };
  const api = async <T>(agent: BenchAgent, op: string, args: unknown): Promise<T> => {
    const res = await fetch(`${agent.info.api}/api/v1/ops/${op}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-cairn-token': agent.info.token },
      body: JSON.stringify(args),
    });
    const body = (await res.json().catch(() => ({}))) as T & { message?: string };
    if (!res.ok) throw new Error(`${agent.name} ${op}: HTTP ${res.status}: ${body.message ?? ''}`);
    return body;
  };
  /**
   * A measured call of an API op on alice's agent: sync, idle wait, then timed from the request to
   * the answer (as the bare streams are timed inside the agent); recorded either way.
   */
  const measuredApi = async <T>(step: string, op: string, args: unknown): Promise<{ body: T; seconds: number; cpuSeconds: number | null }> => {
    const alice = agents.get('alice') as BenchAgent;
    await quiet();
    cfg.log(`mesh: ${step}...`);
    const meter = await cpuMeter();
    const started = process.hrtime.bigint();
    const command = `POST /api/v1/ops/${op} ${JSON.stringify(args)} (alice's agent)`;
    try {
      const body = await api<T>(alice, op, args);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const cpu = await meter(null);
      record(step, { command, seconds, peakRssBytes: null, ...cpu }, true, null);
      cfg.log(`mesh: ${step} ${seconds.toFixed(2)} s`);
      return { body, seconds, cpuSeconds: cpu.cpuSeconds };
    } catch (e) {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      record(step, { command, seconds, peakRssBytes: null, ...(await meter(null)) }, false, e instanceof Error ? e.message : String(e));
      throw e;
    }
  };

  const startAgent = async (name: string): Promise<BenchAgent> => {
    const home = homeOf(name);
    await rm(join(home, 'agent.json'), { force: true });
    const listen = `/ip4/${linkOf(name)?.friendAddr ?? '127.0.0.1'}/tcp/0`;
    // `ip netns exec` execs the agent: the child's PID is the agent's
    const [cmd, args] = inLink(name, [
      process.execPath,
      sinkAgent,
      'agent',
      '--listen',
      listen,
      '--api',
      '127.0.0.1:0',
      '--name',
      name,
      '--disk-floor',
      '0',
      '--replicate-every',
      '24h',
      '--replicas',
      '3',
    ]);
    const proc = spawn(cmd, args, {
      cwd: cfg.root,
      env: { ...(process.env as Record<string, string>), ...cliEnv(name) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let outBytes = 0;
    const keep = (b: Buffer) => {
      out.push(b);
      outBytes += b.length;
      while (outBytes > 64 * 1024 && out.length > 1) outBytes -= (out.shift() as Buffer).length;
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    const output = () => Buffer.concat(out).toString('utf8');
    for (let i = 0; i < 600; i++) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`agent ${name} exited: ${output().trim().slice(-300)}`);
      const info = await readFile(join(home, 'agent.json'), 'utf8').then(
        (t) => JSON.parse(t) as AgentInfo,
        () => null,
      );
      if (info !== null) {
        const a = { name, home, proc, info, output };
        agents.set(name, a);
        return a;
      }
      await sleep(100);
    }
    proc.kill('SIGKILL');
    throw new Error(`agent ${name} did not start within 60 s: ${output().trim().slice(-300)}`);
  };
  const stopAgent = async (name: string): Promise<void> => {
    const a = agents.get(name);
    if (!a) return;
    agents.delete(name);
    if (a.proc.exitCode !== null || a.proc.signalCode !== null) return;
    const exited = new Promise((r) => a.proc.once('exit', r));
    a.proc.kill('SIGTERM');
    const t = setTimeout(() => a.proc.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(t);
  };
  /** The friend invites and alice pairs: alice dials the friend, whichever link it is on. */
  const pair = async (inviter: string, joiner: string) => {
    const { code } = JSON.parse((await cli(inviter, ['invite', '--quota', QUOTA, '--json'])).stdout) as { code: string };
    await cli(joiner, ['pair', code, '--quota', QUOTA, '--json']);
  };

  try {
    await rm(W, { recursive: true, force: true });
    await mkdir(W, { recursive: true });
    const dataDir = join(W, 'data');
    cfg.log(`mesh: generating ${(dataBytes / MIB).toFixed(0)} MiB of incompressible data (xorshift32, seed ${seed})`);
    const genStart = process.hrtime.bigint();
    report.files = await generateData(dataDir, dataBytes, seed);
    cfg.log(`mesh: generated in ${(Number(process.hrtime.bigint() - genStart) / 1e9).toFixed(1)} s`);
    const source = await treeStats([dataDir]);

    const unavailable = env.CAIRN_BENCH_MESH_NETNS === '0' ? 'CAIRN_BENCH_MESH_NETNS=0' : await netnsUnavailable();
    if (unavailable === null) {
      links = await createFriendLinks(FRIENDS);
      cfg.log(`mesh: bob, carol and dave each in a network namespace of their own (${links.map((l) => l.friendAddr).join(', ')})`);
    } else {
      report.links = { unavailable };
      cfg.log(`mesh: every agent on loopback, limited-uplink restores skipped: ${unavailable}`);
    }
    for (const n of ['alice', ...FRIENDS]) {
      await mkdir(join(W, n), { recursive: true });
      await cli(n, ['init', '--json']);
    }
    // the backup is setup, not a mesh metric: done before alice's agent starts, so its peak RSS
    // below covers only the mesh work
    await measuredCli('alice backup (setup, no agent)', 'alice', ['backup', dataDir, '--json']);

    const alice = await startAgent('alice');

    // (a) and (b), once per friend: bob, carol and dave in turn start, pair with alice, take the
    // bare streams from her, then every pack by replication (--replicas 3: each new friend is one
    // more copy wanted). Three samples of each over identical links, best counts on both sides.
    const bare = { raw: [] as number[], windowed: [] as number[], stored: [] as number[] };
    /** CPU seconds of both agents per GiB moved, per sample. */
    const cpuPerGib = { windowed: [] as (number | null)[], stored: [] as (number | null)[], replication: [] as (number | null)[] };
    const perGib = (cpu: number | null, bytes: number) => (cpu === null ? null : cpu / (bytes / 2 ** 30));
    const bareStream = async (friend: BenchAgent) => {
      for (const mode of ['raw', 'windowed', 'stored'] as const) {
        await api(alice, 'benchStream', { peerId: friend.info.peerId, bytes: WARMUP_BYTES, mode });
        await quiet();
        cfg.log(`mesh: bare stream ${mode} to ${friend.name}...`);
        const meter = await cpuMeter();
        const r = await api<{ bytes: number; ms: number }>(alice, 'benchStream', { peerId: friend.info.peerId, bytes: dataBytes, mode });
        const cpu = await meter(null);
        const s = r.ms / 1000;
        bare[mode].push(mbps(r.bytes, s));
        if (mode !== 'raw') cpuPerGib[mode].push(perGib(cpu.cpuSeconds, r.bytes));
        record(
          `bare stream ${mode}, alice → ${friend.name}`,
          {
            command: `POST /api/v1/ops/benchStream {"bytes":${dataBytes},"mode":"${mode}"} (alice → ${friend.name} sink)`,
            seconds: s,
            peakRssBytes: null,
            ...cpu,
          },
          true,
          null,
        );
        cfg.log(`mesh: bare stream ${mode} ${mbps(r.bytes, s).toFixed(1)} MB/s`);
      }
    };
    type Replication = { friend: string; seconds: number; packs: number; bytes: number; rss: { alice: number | null; friend: number | null } };
    const reps: Replication[] = [];
    let rssReset = true;
    for (const name of FRIENDS) {
      const friend = await startAgent(name);
      await pair(name, 'alice');
      await bareStream(friend);
      rssReset = (await resetPeakRss(alice.info.pid)) && (await resetPeakRss(friend.info.pid)) && rssReset;
      const {
        body: out,
        seconds,
        cpuSeconds,
      } = await measuredApi<{ packs: number; pushed: number; pushedBytes: number; underReplicated: number; problems: string[] }>(
        `replicate alice → ${name}`,
        'replicate',
        { wait: true },
      );
      if (out.underReplicated > 0 || out.problems.length > 0)
        throw new Error(`replicate to ${name} left ${out.underReplicated} packs short: ${out.problems.join('; ')}`);
      if (reps.length > 0 && out.pushedBytes !== reps[0]?.bytes)
        throw new Error(`replicate to ${name} pushed ${out.pushedBytes} bytes, to bob ${reps[0]?.bytes}: not every pack went to the new friend`);
      reps.push({
        friend: name,
        seconds,
        packs: out.pushed,
        bytes: out.pushedBytes,
        rss: { alice: await peakRss(alice.info.pid), friend: await peakRss(friend.info.pid) },
      });
      cpuPerGib.replication.push(perGib(cpuSeconds, out.pushedBytes));
    }
    const noopApi = await measuredApi('replicate, nothing to push (API)', 'replicate', { wait: true });
    const noopCli = await measuredCli('replicate, nothing to push (CLI)', 'alice', ['replicate', '--wait', '--json']);

    const rawBest = Math.max(...bare.raw);
    const winBest = Math.max(...bare.windowed);
    const storedBest = Math.max(...bare.stored);
    const samples = (xs: number[]) => xs.map((v, i) => `${FRIENDS[i]} ${v.toFixed(1)}`).join(', ');
    rows.push({
      label: 'Bare Noise+Yamux stream alice → friend, raw `send`/`onDrain`, no acks (MB/s; best of 3)',
      value: `${rawBest.toFixed(1)} (${samples(bare.raw)})`,
    });
    rows.push({
      label: "Bare stream with the packs' flow control, `Frames.sendWindowed` 3 × 1 MiB acked (MB/s; best of 3)",
      value: `${winBest.toFixed(1)} (${samples(bare.windowed)})`,
    });
    const repBest = reps.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const repMbps = mbps(repBest.bytes, repBest.seconds);
    rows.push({
      label: "Replication alice → friend: the agent's `replicate` op with `wait` (what `cairn replicate --wait` asks it), request to answer (s; best of 3)",
      value: `${repBest.seconds.toFixed(2)} (${repBest.packs} packs, ${(repBest.bytes / MB).toFixed(0)} MB; runs ${reps.map((r) => `${r.friend} ${r.seconds.toFixed(2)}`).join(', ')})`,
    });
    // judged against the faster bare variant: either is a bare Noise+Yamux stream between the
    // same two processes, and which one is faster varies with the path (loopback, veth)
    const bareBest = Math.max(rawBest, winBest);
    rows.push({
      label: 'Replication throughput (MB/s, pushed bytes / wall time; best of 3)',
      value: `${repMbps.toFixed(1)} (${samples(reps.map((r) => mbps(r.bytes, r.seconds)))})`,
      target: `≥ ${REPLICATION_TARGET * 100}% of the faster bare stream (≥ ${(bareBest * REPLICATION_TARGET).toFixed(1)})`,
      met: repMbps >= bareBest * REPLICATION_TARGET,
    });
    rows.push({
      label: 'Replication as share of bare raw / of bare windowed (best against best)',
      value: `${((repMbps / rawBest) * 100).toFixed(0)}% / ${((repMbps / winBest) * 100).toFixed(0)}%`,
    });
    rows.push({
      label:
        'Bare windowed stream plus only the disk and hashing work replication cannot avoid ("stored": alice reads her pack files, the friend hashes and writes them in 16 MiB files on its worker thread, each fsynced and dropped from the page cache; no per-pack stream, request or LevelDB record) (MB/s; best of 3)',
      value: `${storedBest.toFixed(1)} (${samples(bare.stored)}); ${((storedBest / bareBest) * 100).toFixed(0)}% of the faster bare stream`,
    });
    rows.push({
      label: 'Replication as share of "stored" (best against best): what Cairn\'s per-pack protocol costs',
      value: `${((repMbps / storedBest) * 100).toFixed(0)}%`,
    });
    const cpuCell = (xs: (number | null)[]) => (xs.some((x) => x === null) ? '?' : xs.map((x) => (x as number).toFixed(1)).join(', '));
    rows.push({
      label: 'CPU of both agents per GiB moved: bare windowed / "stored" / replication (CPU-s; per sample: bob, carol, dave)',
      value: `${cpuCell(cpuPerGib.windowed)} / ${cpuCell(cpuPerGib.stored)} / ${cpuCell(cpuPerGib.replication)}`,
    });
    rows.push({
      label: 'The same op with nothing to push (s): replica bookkeeping, asking each friend for its pack list, signed-head exchange; included above',
      value: noopApi.seconds.toFixed(2),
    });
    rows.push({
      label: '`cairn replicate --wait` with nothing to push (s): the same plus the CLI process starting, not included above',
      value: noopCli.seconds.toFixed(2),
    });
    const peak = (f: (r: Replication) => number | null) => (rssReset ? Math.max(...reps.map((r) => f(r) ?? 0)) : null);
    rows.push({
      label: 'Peak RSS during replication, alice / receiving friend agent (MiB; highest of 3)',
      value: rssReset ? `${mib(peak((r) => r.rss.alice))} / ${mib(peak((r) => r.rss.friend))}` : '? (could not reset VmHWM)',
    });

    const restore = async (label: string): Promise<{ seconds: number; rss: number | null; fetched: string; check: string }> => {
      await rm(join(homeOf('alice'), 'repo', 'packs'), { recursive: true, force: true });
      const target = join(W, 'restore');
      await rm(target, { recursive: true, force: true });
      await mkdir(target, { recursive: true });
      try {
        await resetPeakRss(alice.info.pid);
        const r = await measuredCli(label, 'alice', ['restore', 'latest', '--target', target, '--json']);
        const rss = rssReset ? await peakRss(alice.info.pid) : null;
        const out = JSON.parse(r.stdout) as { errors: string[]; fetched: Record<string, number> };
        if (out.errors.length > 0) throw new Error(`restore errors: ${out.errors.slice(0, 3).join('; ')}`);
        const got: TreeStats = await treeStats([target]);
        const check = got.digest === source.digest && got.bytes === source.bytes ? 'yes' : `NO (${got.files} files, ${got.bytes} bytes)`;
        const fetched = Object.entries(out.fetched)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ');
        return { seconds: r.seconds, rss, fetched, check };
      } finally {
        await rm(target, { recursive: true, force: true });
      }
    };
    // three friends first: a failed fetch from a stopped friend drops that friend from the pack's
    // recorded holders, which would leave the three-friend restore with fewer holders.
    // Each twice; the faster run counts (the machine is shared).
    type Restore = Awaited<ReturnType<typeof restore>>;
    const best = (a: Restore, b: Restore) => (a.seconds <= b.seconds ? a : b);
    const twice = async (label: string) => [await restore(`${label} (1)`), await restore(`${label} (2)`)] as const;
    const limited = links.length > 0 ? ` each friend's uplink limited to ${uplink}` : '';
    const r3free = await twice('restore from bob, carol, dave');
    let r3lim: readonly [Restore, Restore] | null = null;
    if (links.length > 0) {
      await setUplinkRate(links, uplink);
      r3lim = await twice(`restore from bob, carol, dave,${limited}`);
      await setUplinkRate(links, null);
    }
    await stopAgent('carol');
    await stopAgent('dave');
    const r1free = await twice('restore from bob, carol+dave stopped');
    let r1lim: readonly [Restore, Restore] | null = null;
    if (links.length > 0) {
      await setUplinkRate(links, uplink);
      r1lim = await twice(`restore from bob, carol+dave stopped,${limited}`);
      await setUplinkRate(links, null);
    }
    const runs = (rs: readonly { seconds: number }[]) => rs.map((x) => x.seconds.toFixed(2)).join(', ');
    const restoreRows = (what: string, r1runs: readonly [Restore, Restore], r3runs: readonly [Restore, Restore], judged: boolean) => {
      const r1 = best(...r1runs);
      const r3 = best(...r3runs);
      const speedup = r1.seconds / r3.seconds;
      rows.push({
        label: `Restore latest, local packs deleted, 1 friend up (bob; carol, dave stopped), ${what} (s; best of 2)`,
        value: `${r1.seconds.toFixed(2)} (${mbps(dataBytes, r1.seconds).toFixed(1)} MB/s; runs ${runs(r1runs)})`,
      });
      rows.push({
        label: `Restore latest, local packs deleted, 3 friends up, ${what} (s; best of 2)`,
        value: `${r3.seconds.toFixed(2)} (${mbps(dataBytes, r3.seconds).toFixed(1)} MB/s; runs ${runs(r3runs)})`,
      });
      rows.push(
        judged
          ? {
              label: `Restore speed-up, 3 friends vs 1, ${what}`,
              value: `${speedup.toFixed(2)}×`,
              target: `≥ ${RESTORE_SPEEDUP_TARGET}×`,
              met: speedup >= RESTORE_SPEEDUP_TARGET,
            }
          : { label: `Restore speed-up, 3 friends vs 1, ${what}`, value: `${speedup.toFixed(2)}×` },
      );
      rows.push({ label: `Packs fetched per friend, 1 friend / 3 friends, ${what}`, value: `${r1.fetched} / ${r3.fetched}` });
      rows.push({ label: `Peak RSS of alice's agent during restore, 1 friend / 3 friends, ${what} (MiB)`, value: `${mib(r1.rss)} / ${mib(r3.rss)}` });
      rows.push({ label: `Restored files match source, 1 friend / 3 friends, ${what}`, value: `${r1.check} / ${r3.check}` });
    };
    // the target is judged where friends have links of their own: that is what fetching from
    // several at once is for; on shared loopback the restoring agent's CPU is the limit either way
    if (r1lim !== null && r3lim !== null) restoreRows(`uplinks limited to ${uplink}`, r1lim, r3lim, true);
    restoreRows(links.length > 0 ? 'links unlimited (veth)' : 'all on loopback', r1free, r3free, r1lim === null);
  } catch (e) {
    report.error =
      e instanceof CommandError
        ? `${e.result.command.split(' ').slice(1, 3).join(' ')}: ${describeFailure(e.result)}`
        : e instanceof Error
          ? e.message
          : String(e);
    cfg.log(`mesh FAILED: ${report.error}`);
    for (const a of agents.values()) cfg.log(`agent ${a.name} output (tail): ${a.output().trim().slice(-600)}`);
  } finally {
    for (const name of [...agents.keys()]) await stopAgent(name).catch(() => undefined);
    if (links.length > 0) await removeFriendLinks(FRIENDS).catch(() => undefined);
    await rm(W, { recursive: true, force: true }).catch(() => undefined);
  }
  return report;
}

export function renderMeshSection(r: MeshReport, info: { command: string; machine: string; load: string; abbreviate(s: string): string }): string {
  const lines = [
    MESH_BEGIN,
    '## Friend mesh (loopback)',
    '',
    `Generated by \`npm run bench\` (bench/mesh.ts) on ${r.startedAt.toISOString()}; do not edit by hand.`,
    '',
    `- **Command:** \`${info.command}\``,
    `- **Machine:** ${info.machine}`,
    `- **Other load:** ${info.load}`,
    `- **Data:** ${(r.dataBytes / MIB).toFixed(0)} MiB (${(r.dataBytes / MB).toFixed(0)} MB) of incompressible bytes (one seeded xorshift32 stream) in ${r.files} files, backed up once by alice (\`CAIRN_BENCH_MESH_BYTES\`).`,
    "- **Agents:** alice, bob, carol, dave: `cairn agent --replicas 3`, one process each with its own home, TCP + Noise + Yamux, started as `dist/bench/sink/agent.js agent` (cairn plus the benchmark-only sink protocol and the `benchStream` API op, bench/sink/). Every command goes through alice's agent.",
    'uplink' in r.links
      ? `- **Links:** alice listens on 127.0.0.1; bob, carol and dave each run in a network namespace of their own (bench/netns.ts), joined to the host by a veth pair (10.231.N.2 ↔ 10.231.N.1), so every friend has a link of its own as it would across the Internet. All four share the machine\'s cores. Bare streams and replications go alice → each friend over that friend\'s veth, unlimited. For the limited restores each friend\'s uplink (egress of its namespace side) goes through a tc token bucket of ${r.links.uplink} (\`CAIRN_BENCH_MESH_UPLINK\`).`
      : `- **Links:** every agent on loopback (127.0.0.1); the limited-uplink restores were skipped: ${escape(r.links.unavailable)}.`,
    '',
  ];
  if (r.error !== null) lines.push(`**The mesh benchmark failed:** ${escape(r.error)}`, '');
  lines.push('| metric | value | target | met? |', '|---|---:|---|---|');
  for (const row of r.rows)
    lines.push(`| ${row.label} | ${escape(row.value)} | ${row.target ?? ''} | ${row.met === undefined ? '' : row.met ? 'met' : '**not met**'} |`);
  lines.push('', '### Mesh commands', '');
  lines.push('| tool | step | wall s | CPU s | other CPU s | peak RSS (MiB) | result | command |', '|---|---|---:|---:|---:|---:|---|---|');
  for (const c of r.commands) lines.push(commandRow(c, info.abbreviate));
  lines.push(
    '',
    '### How to read the mesh rows',
    '',
    '- MB = 10^6 bytes. Replication throughput = bytes pushed (sum of pack sizes, as the op reports) / time of the whole `replicate` op (`{"wait": true}`, what `cairn replicate --wait` sends) on alice\'s agent, from the HTTP request to its answer: every pack\'s stream, request, transfer and confirmation, the LevelDB bookkeeping on both sides, the pack-list audit of friends already holding packs and the signed-head exchange are included (the "nothing to push" rows show the fixed cost). The CLI process starting is not: it is no part of moving packs between two agents, and the bare streams below are timed inside the agent too. Runs before 2026-11-30 timed the whole CLI command instead (0.35-0.45 s more per sample).',
    '- Replication and bare streams are sampled three times, once per friend: bob, carol and dave in turn start, pair with alice, take the three streams (raw, windowed, stored) from her, and then every pack by replication (`--replicas 3`, so each new friend is one more copy wanted and gets all of them). Each friend has an identical link of its own, so the three samples measure the same thing; the machine is shared and single runs vary by ±20% or more, so the best of three counts on both sides of the comparison.',
    '- The bare stream is measured between the same two agent processes through the API op `benchStream` (bench/sink/agent.ts, talking to the sink in bench/sink/bench-sink.ts): alice\'s agent opens `/cairn/bench-sink/1.0.0` to the friend, which discards the bytes and reports the count; time runs from the first data byte to the friend\'s count (after an untimed 32 MiB warm-up). "raw" writes 1 MiB buffers with `stream.send` and waits on `onDrain` (only Yamux flow control): the plainest bare Noise+Yamux stream. It is not always the faster variant: on this machine many small `send` calls and per-chunk message events cost more CPU than the acknowledged 1 MiB frames (over a veth pair raw ran at half of windowed). The target is judged against the faster of the two, the stricter comparison. "windowed" sends the same 1 MiB frames with `Frames.sendWindowed` (at most 3 unacknowledged, as pack-put and pack-get do); the gap between the two is the cost of Cairn\'s flow control, the gap between windowed and replication the cost of everything else (reading packs, the friend hashing, writing and fsyncing them on a worker thread, LevelDB bookkeeping, a new stream per pack with three packs in flight).',
    '- "stored" splits that gap in two. It is the windowed stream with only the work no replication can skip: alice fills the frames by reading her own pack files back to back, and the friend hashes (SHA-256) and writes what arrives on its hashing worker into files of 16 MiB (the pack size), fsyncing each and dropping it from the page cache while the next arrives, then deletes them; time runs until the last file is fsynced. There is no stream, request, reservation, rename or LevelDB record per pack. Windowed to stored is the price of storing and verifying the bytes at all; stored to replication is what Cairn\'s protocol adds. All agents share the machine\'s cores, so the bare stream, stored and replication all run with both cores busy, and their throughputs are roughly in the inverse ratio of their CPU per GiB (the CPU row).',
    "- Restores go through alice's agent after `rm -r $HOME/repo/packs` (data and metadata packs); every pack is then fetched from friends, verified and stored locally while the restore writes the files (it reads each pack as soon as it is here), and the restored files are compared with the source (untimed). The three-friend restores run first (links unlimited, then uplinks limited), then carol and dave are stopped (SIGTERM) and the one-friend restores run the same way: a stopped friend that the agent tries first fails on connection refused and is dropped from that pack's holders. The speed-up target is judged with limited uplinks when friends have links of their own: fetching from several friends at once is for when each friend's connection is the limit. With unlimited links (or all on loopback) every agent shares the same two cores, the restoring agent's CPU (receiving, verifying, decrypting, writing) is the limit, and more friends cannot make it faster; those rows are there to show that cost.",
    "- CPU s of a mesh command = its own (GNU time) plus every running agent's (/proc/PID/stat) over the command; other CPU s = machine busy time (/proc/stat) minus that, i.e. processes outside the benchmark.",
    "- Peak RSS of an agent = VmHWM of its process, reset (`/proc/PID/clear_refs`) just before the measured command. The CLI commands' own peak RSS is in the command table (GNU time).",
    MESH_END,
  );
  return lines.join('\n');
}

/** Replaces the mesh section of an existing report (or appends it). */
export function mergeMeshSection(existing: string | null, section: string): string {
  if (existing === null || existing.trim() === '') return `# Benchmarks\n\n${section}\n`;
  return mergeMarked(existing, MESH_BEGIN, MESH_END, section);
}

/** The mesh section of an existing report, to carry over when only the engine part runs. */
export function existingMeshSection(existing: string | null): string | null {
  return existingMarked(existing, MESH_BEGIN, MESH_END);
}
