// The fault-injection campaign (SECURITY.md). Two real agents, each its own process with its own
// LevelDB home, libp2p on loopback: alice (the owner, --replicas 1) and bob (her friend, who holds
// her packs). Each fault is an operation with a SIGKILL at a seeded random moment within that
// operation's measured duration:
//   backup     alice backs up a changed tree; alice is killed
//   replicate  alice backs up, then `replicate --wait`; alice is killed during the replication
//   pack-put   the same, but bob (receiving the packs) is killed
//   prune      alice forgets her oldest snapshot(s) and prunes (deletes go to bob); alice is killed
//   pairing    a fresh agent (carol) pairs with alice; alice or carol is killed, carol is unpaired
//   enospc     alice's home is on a small tmpfs filled until 0-256 KiB are left; a backup and a replication
//              run; the filler goes; nothing is killed (the same process must carry on)
//   eio        alice runs under libfiu (helpers/fiu.ts): her fsync and fdatasync fail with EIO, as a
//              failing disk's do, while a backup and a replication run; then they work again; nothing
//              is killed (the same process must carry on)
// After each fault the killed agent restarts on its home, and then: `check --read-data` is clean;
// every snapshot alice lists is one we know, none we know is missing (unless a forget took it);
// the newest snapshot and one other at random restore byte-identical to the tree they saved (all
// of them at the end); a backup and a `replicate --wait` succeed; and, with both agents stopped,
// every pack file bob holds for alice is in alice's index, in her delete outbox for bob, or
// pending deletion at bob.
//
// In `npm test` a short version runs (CAIRN_ADV_FAULTS, default 7: each operation once);
// `npm run adversarial` runs 1,000 and writes the result (CAIRN_ADV_RESULT) for SECURITY.md.
import { mkdir, open, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_PREFIX, API_TOKEN_HEADER, type Job, type JobKind, type PeersResult, type SnapshotsResult } from '../../../protocol/api.js';
import { startAgent, type TestAgent } from '../helpers/agents.js';
import { cairn, type CliResult, tempDir } from '../helpers/cli.js';
import { describeResult } from '../helpers/damage-cli.js';
import { strayPackFiles } from '../helpers/damage-packs.js';
import { fill, mountTmpfs, unmount } from '../helpers/disk-fill.js';
import { readAgentState, readLiveAgentState, RestartableAgent, type AgentState } from '../helpers/fault-agents.js';
import { fiuAvailable, fiuEnv, setEio } from '../helpers/fiu.js';
import { hostedPacks } from '../helpers/mesh-hosted.js';
import { compareTree, compressibleText, mixedTreeSpec, Rng, snapshotTree, writeSampleTree, type FileFacts } from '../helpers/sample-tree.js';

const FAULTS = Number(process.env.CAIRN_ADV_FAULTS ?? 7);
/** No new fault starts after this many seconds (CAIRN_ADV_MAX_SECONDS; the result says it stopped early). */
const MAX_SECONDS = Number(process.env.CAIRN_ADV_MAX_SECONDS ?? Infinity);
const SEED = Number(process.env.CAIRN_ADV_SEED ?? 1615);
/** The campaign stops after this many failed iterations (later ones would only repeat the first). */
const MAX_FAILURES = 3;
const MIB = 1024 * 1024;
/** alice's home: a tmpfs this size (ENOSPC faults fill it). */
const FS_SIZE_MIB = 160;
/** Snapshots kept before a prune fault is due anyway (keeps the home within the tmpfs). */
const MAX_SNAPSHOTS = 12;
/**
 * The friend check (nothing at bob unaccounted for) reads the agents' databases: every this many
 * faults with both agents stopped; between, from copies taken while they run, confirmed stopped
 * when the copies show anything (stopping and restarting both costs about 6.7 s a fault).
 */
const EXACT_FRIEND_CHECK_EVERY = 10;
/**
 * Share of backup faults whose kill is timed from the moment the agent starts the backup job (seen
 * by polling its jobs), spread over the job's own measured duration; the others are timed from the
 * command's start, which also covers kills before the request reaches the agent and just after the
 * backup ended. (Timed from the command's start alone, few kills landed inside a small backup: the
 * command's own start-up, 0.3 s or more and longer under load, is most of its time.)
 */
const ANCHORED_BACKUP_KILLS = 0.8;
/** How often the jobs are polled for the backup to start (ms). */
const JOB_POLL_MS = 5;
/** A CLI call that has not ended this long after its agent died is a hang. */
const OP_LIMIT_MS = 120_000;

type Op = 'backup' | 'replicate' | 'pack-put' | 'prune' | 'pairing' | 'enospc' | 'eio';
const ALL_OPS: Op[] = ['backup', 'replicate', 'pack-put', 'prune', 'pairing', 'enospc', 'eio'];
/** The kinds of fault drawn (CAIRN_ADV_FAULT_KINDS, comma-separated; default all): e.g. the kills alone. */
const OPS: Op[] = (() => {
  const asked = process.env.CAIRN_ADV_FAULT_KINDS;
  if (!asked) return ALL_OPS;
  const kinds = asked.split(',').map((k) => k.trim());
  const unknown = kinds.filter((k) => !ALL_OPS.includes(k as Op));
  if (unknown.length > 0) throw new Error(`CAIRN_ADV_FAULT_KINDS: unknown kind ${unknown.join(', ')} (kinds: ${ALL_OPS.join(', ')})`);
  return ALL_OPS.filter((o) => kinds.includes(o));
})();
const WEIGHTS: Record<Op, number> = { backup: 3, replicate: 2, 'pack-put': 2, prune: 2, pairing: 1, enospc: 2, eio: 2 };

interface OpStats {
  runs: number;
  /** The operation did not complete: the kill came before its commands ended (or, enospc, the backup found the disk full). */
  interrupted: number;
}

interface Failure {
  iteration: number;
  op: Op;
  detail: string;
}

export interface FaultsResult {
  faults: number;
  /** Faults asked for (CAIRN_ADV_FAULTS); more than `faults` when the run stopped early. */
  asked: number;
  /** Why it ran fewer than asked: 'failures' (MAX_FAILURES reached), 'time' (CAIRN_ADV_MAX_SECONDS), or null. */
  stoppedEarly: 'failures' | 'time' | null;
  /** False while the campaign still runs (the file is rewritten after every fault). */
  complete: boolean;
  seed: number;
  seconds: number;
  byOp: Record<string, OpStats>;
  failures: Failure[];
  restoresChecked: number;
  /** Friend checks made with both agents stopped (the others read copies of the running agents' databases). */
  exactFriendChecks: number;
  snapshotsAtEnd: number;
  enospc: string;
  eio: string;
  pairing: string;
}

async function filesBelow(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await filesBelow(root, r)));
    else if (e.isFile()) out.push(r);
  }
  return out;
}

/** Changes the tree a little (bounded: it never grows): new chunks in a big file, small files rewritten, `new/` replaced. */
async function mutate(src: string, rng: Rng, n: number): Promise<void> {
  const files = await filesBelow(src);
  const big = files.filter((f) => f.startsWith('big-') || f.startsWith('media/') || f.startsWith('logs/'));
  const small = files.filter((f) => f.startsWith('small/'));
  const fh = await open(join(src, rng.pick(big)), 'r+');
  try {
    const size = (await fh.stat()).size;
    const len = rng.range(64 * 1024, 512 * 1024);
    await fh.write(rng.bytes(len), 0, len, rng.int(Math.max(1, size - len)));
  } finally {
    await fh.close();
  }
  for (let i = 0; i < 5; i++) await writeFile(join(src, rng.pick(small)), rng.bytes(rng.range(1, 8192)));
  await rm(join(src, 'new'), { recursive: true, force: true });
  await mkdir(join(src, 'new'), { recursive: true });
  for (let i = 0; i < 3; i++) await writeFile(join(src, 'new', `n${n}-${i}.txt`), compressibleText(rng, rng.range(100, 128 * 1024)));
}

/** The agent's newest jobs (POST /api/v1/ops/jobs); [] while it does not answer. */
async function agentJobs(a: TestAgent): Promise<Job[]> {
  try {
    const res = await fetch(`${a.info.api}${API_PREFIX}/ops/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [API_TOKEN_HEADER]: a.info.token },
      body: JSON.stringify({ limit: 5 }),
      signal: AbortSignal.timeout(2_000),
    });
    return res.ok ? ((await res.json()) as Job[]) : [];
  } catch {
    return [];
  }
}

/** Resolves once `a` runs a job of `kind` that is not in `before` (IDs), or when `gone()` says to stop waiting. */
async function jobStarted(a: TestAgent, kind: JobKind, before: Set<string>, gone: () => boolean): Promise<boolean> {
  while (!gone()) {
    if ((await agentJobs(a)).some((j) => j.kind === kind && j.state === 'running' && !before.has(j.id))) return true;
    await sleep(JOB_POLL_MS);
  }
  return false;
}

/** How long the agent's newest finished job of `kind` ran (ms), by its own record; undefined if none. */
async function lastJobMs(a: TestAgent, kind: JobKind): Promise<number | undefined> {
  const j = (await agentJobs(a)).find((x) => x.kind === kind && x.state === 'succeeded' && x.startedAt && x.finishedAt);
  return j ? Date.parse(j.finishedAt as string) - Date.parse(j.startedAt as string) : undefined;
}

describe('fault injection: kills, full disk, across backup, replicate, prune, pack-put and pairing', () => {
  let work: string;
  let src: string;
  let mountPoint: string;
  let mountProblem: string | null;
  let alice: RestartableAgent;
  let bob: RestartableAgent;
  const strays: TestAgent[] = [];

  beforeAll(async () => {
    work = await tempDir('cairn-faults-');
    src = join(work, 'src');
    mountPoint = join(work, 'alice-fs');
    await mkdir(mountPoint);
    mountProblem = mountTmpfs(mountPoint, FS_SIZE_MIB);
    const aliceHome = join(mountProblem === null ? mountPoint : work, 'alice-home');
    // alice runs under libfiu's preload, which deadlocks with libdatachannel's threads as it loads
    // (4 of 20 imports of @libp2p/webrtc hung under it, 13 of 30 loads of node-datachannel): she
    // runs without WebRTC (cairn.yaml webrtc: false), which these faults do not need
    alice = await RestartableAgent.start('alice', {
      home: aliceHome,
      replicas: 1,
      ...(fiuAvailable() ? { env: fiuEnv(), configYaml: 'webrtc: false\n' } : {}),
    });
    bob = await RestartableAgent.start('bob');
    await writeSampleTree(src, mixedTreeSpec({ seed: SEED, bigRandom: [2 * MIB, MIB], bigText: [MIB], smallFiles: 80, smallMax: 8 * 1024 }));
  }, 120_000);

  afterAll(async () => {
    for (const a of [alice, bob]) if (a && (await a.running())) await a.stop();
    for (const a of strays) await a.stop().catch(() => undefined);
    for (const a of [bob, ...strays]) if (a) await rm(join(a.home, '..'), { recursive: true, force: true });
    if (mountProblem === null) {
      unmount(mountPoint);
    }
    if (work) await rm(work, { recursive: true, force: true });
  });

  it(
    `${FAULTS} faults leave a repository that checks clean, restores exactly, works again, and leaves nothing unaccounted at the friend`,
    async () => {
      const t0 = performance.now();
      const rng = new Rng(SEED ^ 0xfa17);
      const byOp: Record<string, OpStats> = Object.fromEntries(OPS.map((o) => [o, { runs: 0, interrupted: 0 }]));
      const failures: Failure[] = [];
      /** Every snapshot we know alice has, oldest first, with the tree it saved. */
      const known = new Map<string, Map<string, FileFacts>>();
      /** Measured durations (ms) of each kind of work, uninterrupted: where the kills are spread. */
      const took: Record<string, number> = {};
      let restores = 0;
      let mutations = 0;
      let exactFriendChecks = 0;

      const run = (who: { home: string }, args: string[]): Promise<CliResult> => cairn(args, { home: who.home });
      const timed = async (who: RestartableAgent, args: string[], key: string): Promise<CliResult> => {
        const t = performance.now();
        const r = await run(who, args);
        if (r.code === 0) took[key] = performance.now() - t;
        return r;
      };
      const backup = async (key = 'backup'): Promise<{ r: CliResult; facts: Map<string, FileFacts> }> => {
        await mutate(src, rng, mutations++);
        const facts = await snapshotTree(src);
        const r = await timed(alice, ['backup', src, '--json'], key);
        if (r.code === 0) {
          known.set((JSON.parse(r.stdout) as { id: string }).id, facts);
          const ms = await lastJobMs(alice.agent, 'backup');
          if (ms !== undefined) took.backupJob = ms;
        }
        return { r, facts };
      };

      /**
       * Runs `steps` (cairn commands) one after the other and SIGKILLs `victim` `delayMs` after they
       * start, whether they still run or not. Steps after the kill are not started (they would run
       * without the agent, on its home).
       */
      /** What this iteration did, for its log line and its failures. */
      let note = '';
      const underKill = async (
        victim: RestartableAgent | TestAgent,
        steps: Array<{ who: RestartableAgent | TestAgent; args: string[] }>,
        delayMs: number,
        /** When given, `delayMs` counts from the moment it resolves (the agent started the work), not from the first command's start. */
        anchor?: (ended: () => boolean) => Promise<boolean>,
      ) => {
        let killed = false;
        let ended = false;
        const results: CliResult[] = [];
        const ops = (async () => {
          for (const s of steps) {
            if (killed) break;
            const r = await run(s.who, s.args);
            results.push(r);
            if (r.code !== 0) break;
          }
        })().finally(() => {
          ended = true;
        });
        if (anchor) {
          const seen = await anchor(() => ended);
          note += `${note ? ', ' : ''}${seen ? 'timed from the job start' : 'the job ended before it was seen'}`;
        }
        await Promise.race([ops, sleep(delayMs)]);
        killed = true;
        if (victim instanceof RestartableAgent) await victim.kill();
        else await killTestAgent(victim);
        const limit = sleep(OP_LIMIT_MS).then(() => 'hang' as const);
        if ((await Promise.race([ops, limit])) === 'hang')
          throw new Error(`${steps.map((s) => s.args[0]).join(' + ')} did not end ${OP_LIMIT_MS} ms after ${victim.name} was killed`);
        note += `${note ? ', ' : ''}${victim.name} killed at ${Math.round(delayMs)} ms`;
        return { results, interrupted: results.some((r) => r.code !== 0) || results.length < steps.length };
      };
      const killTestAgent = async (a: TestAgent) => {
        for (const pid of [a.info.pid, a.proc.pid]) {
          try {
            if (pid !== undefined) process.kill(pid, 'SIGKILL');
          } catch {
            // gone
          }
        }
        if (a.proc.exitCode === null && a.proc.signalCode === null) await new Promise((r) => a.proc.once('exit', r));
      };
      /**
       * A kill moment for work measured as `ms`: uniform from the end of the command's own start-up
       * (took.cli, measured; the agent has nothing to do before) to 1.1 times the whole.
       */
      const killAt = (ms: number) => {
        const from = 0.8 * (took.cli ?? 0);
        return from + rng.next() * Math.max(0, 1.1 * ms - from);
      };
      const delay = (key: string) => killAt(took[key] ?? 2000);

      // start: paired (timed), one snapshot, replicated (timed), and one prune (timed)
      const t = performance.now();
      const { code } = await alice.agent.cli<{ code: string }>(['invite', '--quota', '1G']);
      await bob.agent.cli(['pair', code, '--quota', '1G']);
      took.pairing = performance.now() - t;
      // a command's own start-up and round trip (the fastest of three that the agent answers at once)
      for (let n = 0; n < 3; n++) {
        const c = performance.now();
        await alice.agent.cli(['snapshots']);
        took.cli = Math.min(took.cli ?? Infinity, performance.now() - c);
      }
      const first = await backup();
      expect(first.r.code, describeResult(first.r)).toBe(0);
      expect((await timed(alice, ['replicate', '--wait'], 'replicate')).code).toBe(0);
      expect((await timed(alice, ['forget', '--keep-last', '1'], 'forget')).code).toBe(0);
      const p0 = await timed(alice, ['prune'], 'prune');
      expect(p0.code, describeResult(p0)).toBe(0);
      const alicePeer = alice.agent.info.peerId;

      const checkAfter = async (i: number, op: Op, forgotten: Set<string>, pending: Map<string, FileFacts> | null): Promise<string[]> => {
        const problems: string[] = [];
        const ms: Record<string, number> = {};
        let lapAt = performance.now();
        const lap = (k: string) => {
          ms[k] = Math.round(performance.now() - lapAt);
          lapAt = performance.now();
        };
        const check = await run(alice, ['check', '--read-data']);
        lap('check');
        if (check.code !== 0) problems.push(`check --read-data: ${describeResult(check)}`);
        const stray = await strayPackFiles(alice.home);
        if (stray.length > 0) problems.push(`stray files in alice's packs/: ${stray.slice(0, 5).join(', ')}`);
        // the snapshots alice lists: those we know, less what a forget took, plus the one a killed backup may have committed
        const listed = new Set((await alice.agent.cli<SnapshotsResult>(['snapshots'])).map((s) => s.id));
        for (const id of listed) {
          if (known.has(id)) continue;
          if (pending) known.set(id, pending);
          else problems.push(`alice lists snapshot ${id} that no backup of ours made`);
        }
        for (const id of [...known.keys()]) {
          if (listed.has(id)) continue;
          if (forgotten.has(id)) known.delete(id);
          else {
            problems.push(`snapshot ${id} is gone (the fault was ${op})`);
            known.delete(id);
          }
        }
        // restores: the newest, and one other at random
        const ids = [...known.keys()];
        const sample = new Set(ids.slice(-1));
        if (ids.length > 1) sample.add(rng.pick(ids.slice(0, -1)));
        for (const id of sample) problems.push(...(await restoreMatches(id, `r${i}`)));
        lap('restores');
        // the same agent works again: a backup and a full replication
        const again = await backup();
        if (again.r.code !== 0) problems.push(`backup after the fault: ${describeResult(again.r)}`);
        const rep = await timed(alice, ['replicate', '--wait'], 'replicate');
        if (rep.code !== 0) problems.push(`replicate --wait after the fault: ${describeResult(rep)}`);
        lap('backup+replicate');
        // every pack file at bob for alice is indexed by alice, or queued for deletion (her outbox,
        // or pending at bob). Read first from copies of the running agents' databases (fast, a
        // hint); on every EXACT_FRIEND_CHECK_EVERY-th fault, and whenever the copies show a problem
        // or cannot be read, from the databases themselves with both agents stopped (the verdict).
        const bobPeer = bob.agent.info.peerId;
        const unaccounted = async (a: AgentState, b: AgentState): Promise<string[]> => {
          const out: string[] = [];
          for (const p of await hostedPacks(bob.home, alicePeer)) {
            if (a.indexPacks.has(p.id) || a.deleteOutbox.has(`${bobPeer}!${p.id}`) || b.pendingDeletions.has(`${alicePeer}!${p.id}`)) continue;
            out.push(
              `bob holds alice's pack ${p.id} (${p.size} B): not in alice's index, not in her delete outbox, not pending deletion at bob (bob's records ${b.hosted.has(`${alicePeer}!${p.id}`) ? 'know' : 'do not know'} it)`,
            );
          }
          return out;
        };
        let hint: string[] | null = null;
        if ((i + 1) % EXACT_FRIEND_CHECK_EVERY !== 0 && i !== FAULTS - 1) {
          try {
            hint = await unaccounted(await readLiveAgentState(alice.home), await readLiveAgentState(bob.home));
          } catch {
            hint = null; // a copy taken mid-write: the exact check decides
          }
        }
        if (hint === null || hint.length > 0) {
          exactFriendChecks++;
          await Promise.all([alice.stop(), bob.stop()]);
          problems.push(...(await unaccounted(await readAgentState(alice.home), await readAgentState(bob.home))));
          await Promise.all([alice.restart(), bob.restart()]);
        }
        lap('friend-invariant');
        console.log(`#${i} checks took (ms): ${JSON.stringify(ms)}`);
        return problems;
      };

      const restoreMatches = async (id: string, tag: string): Promise<string[]> => {
        const facts = known.get(id);
        if (!facts) return [`no tree recorded for snapshot ${id}`];
        const target = join(work, `restore-${tag}-${id.slice(0, 8)}`);
        const r = await run(alice, ['restore', id, '--target', target]);
        restores++;
        const out =
          r.code !== 0
            ? [`restore ${id}: ${describeResult(r)}`]
            : (await compareTree(facts, join(target, src), { allowMissing: false })).map((d) => `restore ${id}: ${d}`);
        await rm(target, { recursive: true, force: true });
        return out;
      };

      const enospcOk = mountProblem === null;
      const eioOk = fiuAvailable();
      const ops = OPS.filter((o) => (o !== 'enospc' || enospcOk) && (o !== 'eio' || eioOk));
      if (!eioOk && process.env.CI) failures.push({ iteration: -1, op: 'eio', detail: 'libfiu is required under CI (apt-get install fiu-utils)' });
      const pickOp = (i: number): Op => {
        if (i < ops.length) return ops[i] as Op; // each kind once first
        if (known.size > MAX_SNAPSHOTS) return 'prune';
        const total = ops.reduce((n, o) => n + WEIGHTS[o], 0);
        let x = rng.next() * total;
        for (const o of ops) if ((x -= WEIGHTS[o]) < 0) return o;
        return 'backup';
      };

      const resultSoFar = (complete: boolean): FaultsResult => {
        const ran = Object.values(byOp).reduce((n, s) => n + s.runs, 0);
        return {
          faults: ran,
          asked: FAULTS,
          stoppedEarly: ran >= FAULTS ? null : failures.length >= MAX_FAILURES ? 'failures' : complete ? 'time' : null,
          complete,
          seed: SEED,
          seconds: (performance.now() - t0) / 1000,
          byOp,
          failures,
          restoresChecked: restores,
          exactFriendChecks,
          snapshotsAtEnd: known.size,
          enospc: enospcOk ? `alice's home on a ${FS_SIZE_MIB} MiB tmpfs, filled to 0-256 KiB free` : `not injected: ${mountProblem}`,
          eio: eioOk
            ? "alice's fsync and fdatasync fail with EIO (libfiu preload, switched on and off in the running agent) during a backup and a replication"
            : 'not injected: libfiu missing (apt-get install fiu-utils)',
          pairing: 'kill of the inviter (alice) or the joiner (a fresh agent, carol), then carol unpaired',
        };
      };
      const saveResult = async (complete: boolean) => {
        if (process.env.CAIRN_ADV_RESULT) await writeFile(process.env.CAIRN_ADV_RESULT, JSON.stringify(resultSoFar(complete), null, 2));
      };

      for (let i = 0; i < FAULTS && failures.length < MAX_FAILURES && performance.now() - t0 < MAX_SECONDS * 1000; i++) {
        const op = pickOp(i);
        const stats = byOp[op] as OpStats;
        stats.runs++;
        let pending: Map<string, FileFacts> | null = null;
        const forgotten = new Set<string>();
        note = '';
        try {
          if (op === 'backup') {
            await mutate(src, rng, mutations++);
            pending = await snapshotTree(src);
            const step = [{ who: alice, args: ['backup', src, '--json'] }];
            let k: Awaited<ReturnType<typeof underKill>>;
            if (took.backupJob !== undefined && rng.next() < ANCHORED_BACKUP_KILLS) {
              const before = new Set((await agentJobs(alice.agent)).map((j) => j.id));
              const agent = alice.agent;
              k = await underKill(alice, step, rng.next() * 1.1 * took.backupJob, (ended) => jobStarted(agent, 'backup', before, ended));
            } else k = await underKill(alice, step, delay('backup'));
            if (k.interrupted) stats.interrupted++;
            await alice.restart();
          } else if (op === 'replicate' || op === 'pack-put') {
            const b = await backup();
            if (b.r.code !== 0) throw new Error(`backup before the ${op} fault: ${describeResult(b.r)}`);
            const victim = op === 'replicate' ? alice : bob;
            const k = await underKill(victim, [{ who: alice, args: ['replicate', '--wait'] }], delay('replicate'));
            if (k.interrupted) stats.interrupted++;
            await victim.restart();
          } else if (op === 'prune') {
            const ids = [...known.keys()];
            // one to three go, and at least down to half of MAX_SNAPSHOTS (kills before the forget leave them all)
            const keep = Math.max(1, Math.min(ids.length - rng.range(1, 3), MAX_SNAPSHOTS / 2));
            for (const id of ids.slice(0, ids.length - keep)) forgotten.add(id);
            note = `forget --keep-last ${keep} of ${ids.length}`;
            const k = await underKill(
              alice,
              [
                { who: alice, args: ['forget', '--keep-last', String(keep)] },
                { who: alice, args: ['prune'] },
              ],
              killAt((took.forget ?? 1000) + (took.prune ?? 2000)),
            );
            if (k.interrupted) stats.interrupted++;
            await alice.restart();
          } else if (op === 'pairing') {
            const carol = await startAgent('carol');
            strays.push(carol);
            const invite = await alice.agent.cli<{ code: string }>(['invite', '--quota', '1G']);
            const killCarol = rng.next() < 0.5;
            const k = await underKill(killCarol ? carol : alice, [{ who: carol, args: ['pair', invite.code, '--quota', '1G'] }], delay('pairing'));
            if (k.interrupted) stats.interrupted++;
            note += ` (${killCarol ? 'the joiner' : 'the inviter'})`;
            if (!killCarol) await alice.restart();
            await carol.stop();
            // carol is gone for good: if the pairing went through on alice's side, alice removes her
            const friends = await alice.agent.cli<PeersResult>(['peers']);
            if (friends.some((f) => f.peerId === carol.info.peerId)) {
              const u = await run(alice, ['unpair', carol.info.peerId]);
              if (u.code !== 0) throw new Error(`unpair carol: ${describeResult(u)}`);
              note += ', carol unpaired';
            }
            await rm(join(carol.home, '..'), { recursive: true, force: true });
          } else if (op === 'eio') {
            // eio: alice's syncs fail with EIO during a backup and a replication; then the disk works again
            const pid = alice.agent.info.pid;
            await mutate(src, rng, mutations++);
            pending = await snapshotTree(src);
            setEio(pid, true);
            let r: CliResult;
            let rep: CliResult;
            try {
              r = await run(alice, ['backup', src, '--json']);
              rep = await run(alice, ['replicate', '--wait']);
            } finally {
              setEio(pid, false);
            }
            if (r.code !== 0) stats.interrupted++;
            const line = r.stderr.trim().split('\n');
            note = `syncs failing: backup exit ${r.code} (${line[0]?.slice(0, 160) ?? ''}), replicate exit ${rep.code}`;
            // a failed operation says what failed in one line, and the agent lives on
            if (r.code !== 0 && (line.length !== 1 || !/input\/output error|EIO/i.test(line[0] ?? '')))
              failures.push({ iteration: i, op, detail: `the backup's error is not one line naming the I/O error: ${r.stderr.trim().slice(0, 400)}` });
            if (!(await alice.running()) || alice.agent.info.pid !== pid) {
              failures.push({ iteration: i, op, detail: `alice's agent died on EIO: ${alice.agent.log().slice(-600)}` });
              await alice.restart();
            }
          } else {
            // enospc: the disk under alice's home fills up to a few MiB, a backup and a replication run, the filler goes
            const leave = rng.range(0, 256 * 1024); // less than a changed tree's new data: the backup meets ENOSPC
            const filler = join(mountPoint, 'filler');
            await fill(filler, leave);
            await mutate(src, rng, mutations++);
            pending = await snapshotTree(src);
            const r = await run(alice, ['backup', src, '--json']);
            const rep = await run(alice, ['replicate', '--wait']);
            if (r.code !== 0) stats.interrupted++;
            note = `left ${leave} B free: backup exit ${r.code} (${r.stderr.trim().split('\n')[0]?.slice(0, 160) ?? ''}), replicate exit ${rep.code}`;
            await rm(filler);
            if (!(await alice.running())) {
              failures.push({ iteration: i, op, detail: `alice's agent died on a full disk: ${alice.agent.log().slice(-600)}` });
              await alice.restart();
            }
          }
          if (!(await alice.running())) await alice.restart();
          if (!(await bob.running())) await bob.restart();
          const problems = await checkAfter(i, op, forgotten, pending);
          for (const p of problems) failures.push({ iteration: i, op, detail: `${note ? `${note}; ` : ''}${p}` });
          console.log(`#${i} ${op}${note ? ` (${note})` : ''}: ${problems.length === 0 ? 'ok' : problems.join(' | ')}; ${known.size} snapshots`);
        } catch (err) {
          failures.push({ iteration: i, op, detail: `${note ? `${note}; ` : ''}${(err as Error).message}` });
          console.log(`#${i} ${op}: ${(err as Error).message}`);
          for (const a of [alice, bob]) if (!(await a.running())) await a.restart().catch(() => undefined);
        }
        await saveResult(false);
      }

      // at the end every snapshot still known restores exactly
      if (failures.length === 0)
        for (const id of known.keys()) for (const p of await restoreMatches(id, 'end')) failures.push({ iteration: FAULTS, op: 'backup', detail: p });

      const result = resultSoFar(true);
      console.log(JSON.stringify(result, null, 2));
      await saveResult(true);
      expect(failures, failures.map((f) => `#${f.iteration} ${f.op}: ${f.detail}`).join('\n')).toEqual([]);
    },
    600_000 + FAULTS * 90_000,
  );
});
