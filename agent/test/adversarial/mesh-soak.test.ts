// The hostile friend and stranger soak (SECURITY.md). A real agent (alice, its own process) with
// an honest agent friend (bob), an honest in-process friend (carol) that keeps pushing packs, and,
// in a process of their own (bench/adversarial/hostile-peer.ts), a hostile friend (eve) and a
// stranger (mallory). While eve and mallory send fuzzed frames on every mesh protocol from several
// lanes at once, flood streams, push tiny packs, drip packs, spam heads and hold idle TCP
// connections open, and eve's own handlers answer alice's lists endlessly and never read a pushed
// pack, alice replicates to her friends in rounds. Afterwards alice is alive and healthy, grew her
// memory by less than 64 MiB, never held more for a friend than its grant, kept her disk floor,
// every replication round ended, and carol's pack-put latency is recorded against a baseline
// taken the same way (same puts, same pace) just before the attack, and again just after it.
//
// In `npm test` a short version runs (CAIRN_ADV_FRAMES, default 10,000 frames); `npm run
// adversarial` runs 1,000,000 and writes the result (CAIRN_ADV_RESULT) for SECURITY.md. The
// attackers run from dist/ (npm run build), like the agents.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Libp2p } from '@libp2p/interface';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOLS } from '../../../protocol/mesh.js';
import type { HostileConfig } from '../../../bench/adversarial/hostile-peer.js';
import { pairAgents, startAgent, type TestAgent } from '../helpers/agents.js';
import { ROOT, tempDir } from '../helpers/cli.js';
import { agentAddr, dial, health, pairNode, RawWire, rssBytes, startWireNode } from '../helpers/mesh-wire.js';
import { writeSampleTree } from '../helpers/sample-tree.js';

const MIB = 1024 * 1024;
const FRAMES = Number(process.env.CAIRN_ADV_FRAMES ?? 10_000);
/** The short version (npm test) times fewer honest puts and lets eve hold alice's requests briefly, so it stays short. */
const SHORT = FRAMES < 100_000;
const SEED = Number(process.env.CAIRN_ADV_SEED ?? 1604);
const LANES = Number(process.env.CAIRN_ADV_LANES ?? 8);
const INFLIGHT = Number(process.env.CAIRN_ADV_INFLIGHT ?? 24);
const FRAMES_PER_STREAM = Number(process.env.CAIRN_ADV_FRAMES_PER_STREAM ?? 32);
/** Hostile friends (eves), each paired with an invite of her own: alice's limits are per friend, so more eves send more at once. */
const EVES = Number(process.env.CAIRN_ADV_EVES ?? 1);
const HONEST_PUT_BYTES = 256 * 1024;
/** Honest puts timed before and after the attack (same loop, same pace as during it); 600 so that the baseline's p99 is not one or two outliers. */
const BASELINE_PUTS = Number(process.env.CAIRN_ADV_BASELINE_PUTS ?? (SHORT ? 20 : 600));
/** How long eve holds alice's pushes and head requests unanswered (alice's inactivity timeout, 60 s, cuts them first in the full run). */
const EVE_HOLD_MS = Number(process.env.CAIRN_ADV_EVE_HOLD_MS ?? (SHORT ? 3_000 : 10 * 60_000));
/** The attack stops after this long even short of FRAMES (then the soak fails on the frame count). */
const MAX_SECONDS = Number(process.env.CAIRN_ADV_MAX_SECONDS ?? 0);
/**
 * CAIRN_ADV_DECOY=1, a control run: the attackers go for another agent on this machine (a decoy)
 * instead of alice, so carol's latency shows what the attack costs through the machine alone
 * (2 cores shared by the attackers, their target and carol), not through alice.
 */
const DECOY = process.env.CAIRN_ADV_DECOY === '1';
/**
 * Pinning (CAIRN_ADV_PIN, on by default in the full run on 2 or more CPUs): each party as on a
 * machine of its own, as far as 2 CPUs allow. Alice (and the decoy) run alone on CPU 0. Bob, the
 * CLI commands and this process (carol) run on CPU 1 beside the attackers, whose process is made
 * SCHED_IDLE there: it runs only while carol and bob have nothing to run, so neither the attackers'
 * work nor carol's and bob's takes CPU from alice, and the attackers' work does not delay carol's
 * side. Carol's latency then measures what the attack costs through alice, in the baselines and
 * under attack alike.
 */
const PIN = (process.env.CAIRN_ADV_PIN ?? (SHORT ? '0' : '1')) === '1' && availableParallelism() >= 2;

/** Runs a scheduling command (taskset, chrt) on every thread of `pid`; throws when it fails. */
function schedule(pid: number | undefined, cmd: string, args: string[]): void {
  if (pid === undefined) throw new Error(`no PID for ${cmd}`);
  const r = spawnSync(cmd, [...args, String(pid)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} ${pid}: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`);
}
/** Moves every thread of `pid` onto `cpu` (threads it starts later inherit it). */
const pinTo = (pid: number | undefined, cpu: number) => schedule(pid, 'taskset', ['-a', '-p', '-c', String(cpu)]);
/** Makes every thread of `pid` SCHED_IDLE: it runs only when nothing else on its CPU wants to. */
const idleOnly = (pid: number | undefined) => schedule(pid, 'chrt', ['-a', '-i', '-p', '0']);
const HONEST_PAUSE_MS = 100;
const EVE_GRANT = 4 * MIB;
/** Room for every honest put of a full run (about 4 puts of 256 KiB a second for half an hour), so carol never meets her quota. */
const CAROL_GRANT = 16 * 1024 * MIB;
/** alice's disk floor: the disk must never go below it, whatever friends push. */
const DISK_FLOOR_BYTES = 64 * MIB;
/** How long one replication round may take before the soak calls it stalled. */
const ROUND_LIMIT_MS = Number(process.env.CAIRN_ADV_ROUND_LIMIT_MS ?? 180_000);

interface Peer {
  name: string;
  peerId: string;
  storedForPeerBytes: number;
  grantToPeer: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function packOf(size: number): { id: string; bytes: Buffer } {
  const bytes = randomBytes(size);
  return { id: createHash('sha256').update(bytes).digest('hex'), bytes };
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
}

/** CPU seconds (user + system) a process has used, from /proc. */
async function cpuSeconds(pid: number | undefined): Promise<number> {
  if (pid === undefined) return 0;
  const f = (await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')).split(') ')[1]?.split(' ') ?? [];
  return (Number(f[11] ?? 0) + Number(f[12] ?? 0)) / 100;
}

async function loadAvg(): Promise<string> {
  return (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
}

/** One honest put's latency in ms: in all, and its three parts (request to ready, pack sent and acknowledged, ack to stored). */
interface PutTime {
  total: number;
  ready: number;
  send: number;
  store: number;
}

/** One honest pack-put of a fresh pack; its latency, or an error text. */
async function honestPut(node: Libp2p, alice: TestAgent, size: number): Promise<PutTime | string> {
  const pack = packOf(size);
  const t0 = performance.now();
  try {
    const w = new RawWire(await dial(node, alice, PROTOCOLS.packPut));
    const ready = (await w.request({ packId: pack.id, sizeBytes: size }, 60_000)) as { kind: string; value?: { ok?: boolean; message?: string } };
    if (ready.kind !== 'reply' || ready.value?.ok !== true) return `ready: ${JSON.stringify(ready).slice(0, 200)}`;
    const t1 = performance.now();
    await w.sendPack(pack.bytes);
    const t2 = performance.now();
    const done = (await w.readJson(60_000)) as { ok?: boolean; message?: string };
    const t3 = performance.now();
    await w.stream.close().catch(() => undefined);
    return done.ok === true ? { total: t3 - t0, ready: t1 - t0, send: t2 - t1, store: t3 - t2 } : `done: ${JSON.stringify(done).slice(0, 200)}`;
  } catch (err) {
    return `put failed: ${(err as Error).message}`;
  }
}

/** `n` honest puts (or until `stop`), one every HONEST_PAUSE_MS after the last ended. */
async function honestPuts(node: Libp2p, alice: TestAgent, n: number, stop: () => boolean, times: PutTime[], errors: string[]): Promise<void> {
  for (let i = 0; i < n && !stop(); i++) {
    const t = await honestPut(node, alice, HONEST_PUT_BYTES);
    if (typeof t === 'string') errors.push(t);
    else times.push(t);
    await sleep(HONEST_PAUSE_MS);
  }
}

/** p50 and p99 of each part of a set of honest puts (ms). */
function putStats(xs: PutTime[]): Record<keyof PutTime, { p50: number; p99: number }> {
  const of = (k: keyof PutTime) => ({
    p50: percentile(
      xs.map((x) => x[k]),
      50,
    ),
    p99: percentile(
      xs.map((x) => x[k]),
      99,
    ),
  });
  return { total: of('total'), ready: of('ready'), send: of('send'), store: of('store') };
}

/** Time a process (all its threads) has waited for a CPU while runnable, in ms (/proc/PID/schedstat, summed over tasks). */
async function runQueueWaitMs(pid: number | undefined): Promise<number> {
  if (pid === undefined) return 0;
  let ns = 0;
  for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
    const f = await readFile(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').catch(() => '');
    ns += Number(f.split(' ')[1] ?? 0);
  }
  return ns / 1e6;
}

interface Attackers {
  proc: ChildProcess;
  ready: Promise<Record<string, unknown>>;
  done: Promise<Record<string, unknown>>;
  last: () => Record<string, unknown>;
}

function startAttackers(cfg: HostileConfig): Attackers {
  const proc = spawn(process.execPath, [join(ROOT, 'dist', 'bench', 'adversarial', 'hostile-peer.js'), JSON.stringify(cfg)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let last: Record<string, unknown> = {};
  let onReady: (e: Record<string, unknown>) => void = () => undefined;
  let onDone: (e: Record<string, unknown>) => void = () => undefined;
  let onFail: (e: Error) => void = () => undefined;
  let failReady: (e: Error) => void = () => undefined;
  let failDone: (e: Error) => void = () => undefined;
  const ready = new Promise<Record<string, unknown>>((res, rej) => {
    onReady = res;
    failReady = rej;
  });
  const done = new Promise<Record<string, unknown>>((res, rej) => {
    onDone = res;
    failDone = rej;
  });
  onFail = (e) => {
    failReady(e);
    failDone(e);
  };
  ready.catch(() => undefined);
  done.catch(() => undefined);
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if (e.event === 'ready') onReady(e);
    else if (e.event === 'progress') last = e;
    else if (e.event === 'done') {
      last = e;
      onDone(e);
    } else if (e.event === 'error') onFail(new Error(`attackers failed: ${String(e.message)}`));
  });
  proc.on('exit', (code) => onFail(new Error(`attackers exited with ${code}`)));
  return { proc, ready, done, last: () => last };
}

describe('hostile friend and stranger soak against a real agent', () => {
  let alice: TestAgent;
  let bob: TestAgent;
  let decoy: TestAgent | undefined;
  let carol: { node: Libp2p };
  let attackers: Attackers | undefined;

  beforeAll(async () => {
    // CAIRN_ADV_PROFILE=<dir>: alice writes a CPU profile there when she stops (to see what the attack costs her)
    const profile = process.env.CAIRN_ADV_PROFILE;
    const nodeOptions = process.env.NODE_OPTIONS;
    if (profile) process.env.NODE_OPTIONS = `${nodeOptions ?? ''} --cpu-prof --cpu-prof-dir=${profile}`;
    alice = await startAgent('alice', { replicas: 3, diskFloor: String(DISK_FLOOR_BYTES) });
    if (profile) {
      if (nodeOptions === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = nodeOptions;
    }
    bob = await startAgent('bob');
    await pairAgents(alice, bob, '1G');
    carol = await startWireNode();
    const { code: carolCode } = await alice.cli<{ code: string }>(['invite', '--quota', String(CAROL_GRANT)]);
    // carol takes nothing of alice's (a wire node has no pack-put handler): she grants no space, so
    // alice's rounds do not try her (and end with "carol unreachable") while the soak runs
    const paired = await pairNode(carol.node, carolCode, 'carol', 0);
    expect(paired.kind, JSON.stringify(paired)).toBe('reply');
    if (DECOY) decoy = await startAgent('decoy', { replicas: 3, diskFloor: String(DISK_FLOOR_BYTES) });
    const target = decoy ?? alice;
    const eveCodes: string[] = [];
    for (let i = 0; i < EVES; i++) eveCodes.push((await target.cli<{ code: string }>(['invite', '--quota', String(EVE_GRANT)])).code);
    attackers = startAttackers({
      target: agentAddr(target).toString(),
      inviteCodes: eveCodes,
      eveGrantBytes: 1024 * MIB,
      frames: FRAMES,
      seed: SEED,
      lanes: LANES,
      inflight: INFLIGHT,
      maxFramesPerStream: FRAMES_PER_STREAM,
      strangerShare: 0.1,
      heldSockets: 50,
      progressMs: 5_000,
      holdMs: EVE_HOLD_MS,
      maxSeconds: MAX_SECONDS,
    });
    if (PIN) {
      pinTo(attackers.proc.pid, 1);
      idleOnly(attackers.proc.pid);
      for (const a of [alice, decoy]) if (a) pinTo(a.info.pid, 0);
      pinTo(bob.info.pid, 1);
      pinTo(process.pid, 1);
    }
    await attackers.ready;
    // an invite left open: strangers get past the handshake (for pairing only), so mallory's frames reach alice's handlers
    await target.cli(['invite', '--quota', '1M']);
  }, 300_000);

  afterAll(async () => {
    attackers?.proc.stdin?.end();
    attackers?.proc.kill('SIGTERM');
    await Promise.resolve(carol?.node.stop()).catch(() => undefined);
    await alice?.stop();
    await bob?.stop();
    await decoy?.stop();
  });

  it(
    `${FRAMES.toLocaleString('en')} hostile frames later alice is healthy, bounded, within grants and floor, and her rounds end`,
    async () => {
      const att = attackers as Attackers;
      const src = await tempDir('cairn-soak-data-');
      await writeSampleTree(src, {
        seed: 7,
        entries: [
          { kind: 'random', path: 'one.bin', size: 6 * MIB },
          { kind: 'random', path: 'two.bin', size: 2 * MIB },
        ],
      });
      await alice.cliOk(['backup', src]);

      const baseline: PutTime[] = [];
      const after: PutTime[] = [];
      const under: PutTime[] = [];
      const honestErrors: string[] = [];
      const load = { before: await loadAvg(), during: '', after: '' };
      // how long alice and this process (carol's side) wait for a CPU, per second, in each phase: the machine's load
      const waits = { alice: await runQueueWaitMs(alice.info.pid), carol: await runQueueWaitMs(process.pid), t: performance.now() };
      const waitRate = async () => {
        const now = { alice: await runQueueWaitMs(alice.info.pid), carol: await runQueueWaitMs(process.pid), t: performance.now() };
        const s = (now.t - waits.t) / 1000;
        const r = { aliceMsPerS: (now.alice - waits.alice) / s, carolMsPerS: (now.carol - waits.carol) / s };
        Object.assign(waits, now);
        return r;
      };
      await honestPuts(carol.node, alice, BASELINE_PUTS, () => false, baseline, honestErrors);
      expect(honestErrors, 'honest baseline puts').toEqual([]);
      const cpuWait = { before: await waitRate(), during: { aliceMsPerS: 0, carolMsPerS: 0 }, after: { aliceMsPerS: 0, carolMsPerS: 0 } };
      await sleep(500);
      const rssBefore = await rssBytes(alice.info.pid);
      let rssPeak = rssBefore;
      let minFreeBytes = Infinity;
      const hostedDir = join(alice.home, 'hosted');

      let done = false;
      const rounds: Array<{ ms: number; ok: boolean; detail: string }> = [];
      const cpu0 = {
        alice: await cpuSeconds(alice.info.pid),
        attackers: await cpuSeconds(att.proc.pid),
        decoy: await cpuSeconds(decoy?.info.pid),
        t: performance.now(),
      };
      att.proc.stdin?.write('go\n');
      const attackDone = att.done.then(
        (e) => e,
        (err: Error) => ({ error: err.message }) as Record<string, unknown>,
      );
      void attackDone.then(() => (done = true));

      const honest = () => honestPuts(carol.node, alice, Infinity, () => done, under, honestErrors);
      const replication = async () => {
        while (!done) {
          const t0 = performance.now();
          const res = await Promise.race([
            alice.cli<{ problems?: string[] }>(['replicate', '--wait']).then(
              (v) => ({ ok: true, detail: (v.problems ?? []).slice(0, 6).join('; ') }),
              (e: Error) => ({ ok: true, detail: `exit: ${e.message.slice(0, 1000)}` }),
            ),
            sleep(ROUND_LIMIT_MS).then(() => ({ ok: false, detail: `no end after ${ROUND_LIMIT_MS} ms` })),
          ]);
          rounds.push({ ms: performance.now() - t0, ...res });
          await sleep(1000);
          process.stderr.write(`soak round ${rounds.length}: ${(rounds.at(-1)?.ms ?? 0).toFixed(0)} ms: ${res.detail}\n`);
          if (!res.ok) return;
        }
      };
      const watch = async () => {
        let lastReport = performance.now();
        while (!done) {
          rssPeak = Math.max(rssPeak, await rssBytes(alice.info.pid).catch(() => 0));
          const fs = await statfs(hostedDir).catch(() => null);
          if (fs) minFreeBytes = Math.min(minFreeBytes, fs.bavail * fs.bsize);
          if (!load.during && performance.now() - lastReport > 10_000) load.during = await loadAvg();
          await sleep(500);
          if (performance.now() - lastReport > 30_000) {
            lastReport = performance.now();
            const p = att.last();
            process.stderr.write(
              `soak progress: ${String(p.frames)} frames in ${Number(p.seconds ?? 0).toFixed(0)} s, ${rounds.length} rounds, ${under.length} honest puts (p99 ${percentile(
                under.map((x) => x.total),
                99,
              ).toFixed(0)} ms), rss peak ${(rssPeak / MIB).toFixed(0)} MiB, load ${await loadAvg()}\n`,
            );
          }
        }
      };
      await Promise.all([honest(), replication(), watch()]);
      const hostile = await attackDone;
      cpuWait.during = await waitRate();
      const cpu = {
        seconds: (performance.now() - cpu0.t) / 1000,
        alice: (await cpuSeconds(alice.info.pid)) - cpu0.alice,
        attackers: (await cpuSeconds(att.proc.pid)) - cpu0.attackers,
        decoy: (await cpuSeconds(decoy?.info.pid)) - cpu0.decoy,
      };
      load.during ||= await loadAvg();
      await sleep(1000);
      await waitRate();
      await honestPuts(carol.node, alice, BASELINE_PUTS, () => false, after, honestErrors);
      cpuWait.after = await waitRate();
      load.after = await loadAvg();

      const rssAfter = await rssBytes(alice.info.pid);
      const peers = await alice.cli<Peer[]>(['peers']);
      const frames = Number(hostile.frames ?? 0);
      const result = {
        frames,
        exchanges: Object.values((hostile.streams ?? {}) as Record<string, number>).reduce((a, b) => a + b, 0),
        seconds: Number(hostile.seconds ?? 0),
        framesPerSecond: frames / Math.max(1, Number(hostile.seconds ?? 0)),
        seed: SEED,
        hostile,
        load,
        cpu,
        rssBeforeMiB: rssBefore / MIB,
        rssPeakMiB: rssPeak / MIB,
        rssAfterMiB: rssAfter / MIB,
        minFreeMiB: minFreeBytes / MIB,
        floorMiB: DISK_FLOOR_BYTES / MIB,
        cpuWait,
        honest: {
          baselineP50: percentile(
            baseline.map((x) => x.total),
            50,
          ),
          baselineP99: percentile(
            baseline.map((x) => x.total),
            99,
          ),
          underP50: percentile(
            under.map((x) => x.total),
            50,
          ),
          underP99: percentile(
            under.map((x) => x.total),
            99,
          ),
          afterP50: percentile(
            after.map((x) => x.total),
            50,
          ),
          afterP99: percentile(
            after.map((x) => x.total),
            99,
          ),
          parts: { before: putStats(baseline), under: putStats(under), after: putStats(after) },
          puts: under.length,
          errors: honestErrors.slice(0, 5),
          errorCount: honestErrors.length,
        },
        rounds: {
          count: rounds.length,
          maxMs: Math.max(0, ...rounds.map((x) => x.ms)),
          stalled: rounds.filter((x) => !x.ok).length,
          lastDetail: rounds.at(-1)?.detail ?? '',
        },
        grants: peers.map((p) => ({ name: p.name, held: p.storedForPeerBytes, grant: p.grantToPeer })),
        alive: alice.proc.exitCode === null,
        decoy: DECOY,
        pinned: PIN,
        eves: EVES,
      };
      if (process.env.CAIRN_ADV_RESULT) await writeFile(process.env.CAIRN_ADV_RESULT, JSON.stringify(result, null, 2));
      process.stderr.write(`soak: ${JSON.stringify(result)}\n`);

      expect(hostile.error, String(hostile.error)).toBeUndefined();
      expect(result.alive, alice.log().slice(-2000)).toBe(true);
      expect((await health(alice)).peerId).toBe(alice.info.peerId);
      expect(frames).toBeGreaterThanOrEqual(FRAMES);
      expect(result.rounds.stalled, JSON.stringify(rounds.slice(-3))).toBe(0);
      expect(result.rounds.count).toBeGreaterThan(0);
      for (const g of result.grants) expect(g.held, `${g.name} holds ${g.held} of ${g.grant}`).toBeLessThanOrEqual(g.grant);
      expect(minFreeBytes, "free disk under alice's floor").toBeGreaterThanOrEqual(DISK_FLOOR_BYTES);
      expect(rssAfter - rssBefore, `alice's RSS ${rssBefore} -> ${rssAfter}`).toBeLessThan(64 * MIB);
      // carol, the honest friend, kept getting her packs stored throughout
      expect(under.length, honestErrors.slice(0, 3).join('\n')).toBeGreaterThan(0);
      expect(honestErrors, honestErrors.slice(0, 3).join('\n')).toEqual([]);
    },
    60 * 60_000,
  );
});
