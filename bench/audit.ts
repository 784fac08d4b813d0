// The audit part of `npm run bench` (issue 19 item 7; CAIRN_BENCH_ONLY=audit): what storage
// challenges cost a friend, and that they do not hold up replication. Two meshes as the agent
// composes them (agent/src/mesh/compose.ts, from dist/), owner and friend, each with a real
// repository on disk, in this process, TCP on loopback, both on one injected clock. The owner
// backs up CAIRN_BENCH_AUDIT_BYTES (default 1 GiB) of incompressible blobs and replicates them
// all to the friend (replicas 1); then the clock moves `replicate-every` (15 min) per replication
// round for CAIRN_BENCH_AUDIT_DAYS simulated days (default 2), each round a real one (pack list,
// the rotation's challenges, the signed head), with Cairn's default audit settings
// (`friends.audit`: period 30 days, daily share 1%). The friend's reads of the packs it holds are
// counted at its hosted store (every byte a challenge answer reads goes through it), the owner's
// reads of its own packs likewise. Then, with new data to push each time: replication rounds with
// no challenge due and with the rotation's challenges due (its budget saved up), alternately, three
// of each (best counts), and a round asked for while `cairn audit` (every pack at the friend) runs.
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CONFIG_DEFAULTS } from '../protocol/config.js';
import type { Mesh } from '../agent/src/mesh/compose.js';
import type { Stores } from '../agent/src/compose-root.js';
import type { LocalPackStore } from '../agent/src/store/local-pack-store.js';
import { systemClock } from '../agent/src/util/clock.js';
import { escape, MB, MIB, existingMarked, mergeMarked } from './report.js';

export const AUDIT_BEGIN = '<!-- audit:begin (bench/audit.ts) -->';
export const AUDIT_END = '<!-- audit:end -->';
const DEFAULT_BYTES = 1024 * MIB;
const DEFAULT_DAYS = 2;
/** New data each replication-timing row pushes: a sixteenth of what the friend holds, at least 16 MiB. */
const PUSH_DIVISOR = 16;
const BLOB_BYTES = MIB;
/** Rounds timed with and without challenges due, alternately; the best of each counts. */
const PUSH_SAMPLES = 3;
const DAY_MS = 86_400_000;
/** Longest any one round may take before the part gives up (a stalled round is the failure this looks for). */
const ROUND_DEADLINE_MS = 15 * 60_000;
const PASSPHRASE = 'bench-audit';

export interface AuditRow {
  label: string;
  value: string;
  target?: string;
  met?: boolean;
  /** Shown instead of "met" / "not met" when given. */
  verdict?: string;
}

export interface AuditReport {
  startedAt: Date;
  heldBytes: number;
  packs: number;
  days: number;
  roundEveryMs: number;
  periodMs: number;
  dailyShare: number;
  rows: AuditRow[];
  /** The measured numbers behind the rows (bytes). */
  measured: { sharePerDayBytes: number; friendReadPerDay: number[]; worst24hBytes: number; auditReadBytes: number; auditChallenges: number };
  error: string | null;
}

function sizeFromEnv(name: string, text: string | undefined, fallback: number): number {
  const t = (text ?? '').trim();
  if (t === '') return fallback;
  const m = /^(\d+(?:\.\d+)?)\s*([KMG]?)(?:i?B)?$/i.exec(t);
  if (!m) throw new Error(`${name}=${t}: expected bytes or a size like 64M or 1G`);
  return Math.floor(Number(m[1]) * ({ '': 1, K: 1024, M: MIB, G: 1024 * MIB }[(m[2] ?? '').toUpperCase()] ?? 1));
}

export function auditBytes(env: NodeJS.ProcessEnv): number {
  return sizeFromEnv('CAIRN_BENCH_AUDIT_BYTES', env.CAIRN_BENCH_AUDIT_BYTES, DEFAULT_BYTES);
}

export function auditDays(env: NodeJS.ProcessEnv): number {
  const t = (env.CAIRN_BENCH_AUDIT_DAYS ?? '').trim();
  if (t === '') return DEFAULT_DAYS;
  const n = Number(t);
  if (!Number.isInteger(n) || n < 1 || n > 30) throw new Error(`CAIRN_BENCH_AUDIT_DAYS=${t}: expected a whole number of days from 1 to 30`);
  return n;
}

/** Counts the bytes read through `store.readInto` into `counter.bytes` (the store is the friend's hosted one, or the owner's own). */
function countReads(store: LocalPackStore, counter: { bytes: number }): void {
  const read = store.readInto.bind(store);
  store.readInto = async (id, offset, target) => {
    counter.bytes += target.byteLength;
    return read(id, offset, target);
  };
}

/** `p`, or an error once `ms` passed: a round that does not finish is reported, not waited for forever. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 60_000} min`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const mib = (b: number) => `${(b / MIB).toFixed(2)} MiB`;
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

export async function runAuditBench(cfg: { workDir: string; log(text: string): void }, env: NodeJS.ProcessEnv): Promise<AuditReport> {
  // the agent's modules load only when this part runs (the other parts of `npm run bench` need none)
  const { sampleBytes } = await import('../agent/src/mesh/challenge-rotation.js');
  const { createMesh } = await import('../agent/src/mesh/compose.js');
  const { BlobType } = await import('../agent/src/repo/blob.js');
  const { createStores } = await import('../agent/src/compose-root.js');
  const audit = CONFIG_DEFAULTS.friends.audit;
  const roundEveryMs = CONFIG_DEFAULTS.replicateIntervalMs;
  const report: AuditReport = {
    startedAt: new Date(),
    heldBytes: auditBytes(env),
    packs: 0,
    days: auditDays(env),
    roundEveryMs,
    periodMs: audit.periodMs,
    dailyShare: audit.dailyShare,
    rows: [],
    measured: { sharePerDayBytes: 0, friendReadPerDay: [], worst24hBytes: 0, auditReadBytes: 0, auditChallenges: 0 },
    error: null,
  };
  const rows = report.rows;
  const work = join(cfg.workDir, 'audit');
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  // the simulated clock starts at the real time; only the rounds move it
  let now = systemClock.now();
  const clock = { now: () => now };
  const repos: Stores[] = [];
  const meshes: Mesh[] = [];
  try {
    const ownerStores = (await createStores(join(work, 'owner'), PASSPHRASE, new Date(now))).stores;
    repos.push(ownerStores);
    const ownerRepo = ownerStores.repo;
    const friendStores = (await createStores(join(work, 'friend'), PASSPHRASE, new Date(now))).stores;
    repos.push(friendStores);
    const base = { listen: ['/ip4/127.0.0.1/tcp/0'], replicas: 1, diskFloorBytes: 0, clock, audit };
    const owner = await createMesh(ownerStores, { ...base, name: 'owner' });
    meshes.push(owner);
    const friend = await createMesh(friendStores, { ...base, name: 'friend' });
    meshes.push(friend);
    // room for everything with slack: the first data, the pushes below, pack overheads
    const pushBytes = Math.max(16 * MIB, Math.floor(report.heldBytes / PUSH_DIVISOR));
    const grant = 2 * (report.heldBytes + (2 * PUSH_SAMPLES + 1) * pushBytes);
    await owner.pairing.pair((await friend.pairing.invite(grant, 600_000)).code, grant);

    const addData = async (bytes: number): Promise<void> => {
      for (let done = 0; done < bytes; done += BLOB_BYTES) await ownerRepo.saveBlob(BlobType.data, randomBytes(Math.min(BLOB_BYTES, bytes - done)));
      await ownerRepo.flush();
    };
    const round = async (what: string) => {
      const started = process.hrtime.bigint();
      const r = await within(owner.replication.replicate(), ROUND_DEADLINE_MS, what);
      if (r.problems.length > 0) throw new Error(`${what}: ${r.problems[0]}`);
      return { result: r, ms: Number(process.hrtime.bigint() - started) / 1e6 };
    };

    cfg.log(`audit: writing ${mib(report.heldBytes)} of incompressible blobs`);
    await addData(report.heldBytes);
    const first = await round('the first replication');
    if (first.result.underReplicated > 0) throw new Error(`the first replication left ${first.result.underReplicated} packs without a copy`);
    const held = await owner.ledgers.copies.map();
    report.packs = held.byPack.size;
    const heldBytes = [...held.sizes.values()].reduce((a, b) => a + b, 0);
    const maxSample = Math.max(...[...held.sizes.values()].map((s) => sampleBytes(s, audit)));
    rows.push({ label: 'held at the friend', value: `${mib(heldBytes)} in ${report.packs} packs (first replication ${secs(first.ms)})` });
    const sharePerDay = heldBytes * audit.dailyShare;
    report.measured.sharePerDayBytes = sharePerDay;
    /** SPEC 13.8: any 24 hours read at most the share plus two samples (a sample can be more than a day's share). */
    const specBound = sharePerDay + 2 * maxSample;
    const judge = (read: number) => ({
      target: `at most ${mib(sharePerDay)} (the share; SPEC 13.8 allows two samples more: ${mib(specBound)})`,
      met: read <= specBound,
      verdict: read <= sharePerDay ? 'met' : read <= specBound ? '**over the share**, within SPEC 13.8' : '**not met**',
    });
    rows.push({
      label: 'configured share of it per day',
      value: `${(audit.dailyShare * 100).toFixed(2)}% = ${mib(sharePerDay)} (audit period ${audit.periodMs / DAY_MS} d; a challenge reads ${mib(maxSample)} of a pack)`,
    });

    // count from here: the friend's reads of what it holds for the owner, the owner's of its own packs
    const friendRead = { bytes: 0 };
    countReads(await friend.ctx.hosted.storeFor(owner.peerId), friendRead);
    const ownerRead = { bytes: 0 };
    countReads(ownerRepo.store, ownerRead);

    const roundsPerDay = Math.round(DAY_MS / roundEveryMs);
    const perRound: number[] = [];
    const challengedPerDay: number[] = [];
    let slowestRoundMs = 0;
    const dayStart = now;
    for (let day = 0; day < report.days; day++) {
      let challenged = 0;
      for (let i = 0; i < roundsPerDay; i++) {
        now += roundEveryMs;
        const before = friendRead.bytes;
        const r = await round(`round ${day * roundsPerDay + i + 1}`);
        slowestRoundMs = Math.max(slowestRoundMs, r.ms);
        perRound.push(friendRead.bytes - before);
        const passed = await owner.ledgers.challenges.lastPassed(friend.peerId);
        challenged += [...passed.values()].filter((t) => t === now).length;
      }
      challengedPerDay.push(challenged);
      const read = perRound.slice(day * roundsPerDay).reduce((a, b) => a + b, 0);
      report.measured.friendReadPerDay.push(read);
      cfg.log(`audit: simulated day ${day + 1}: the friend read ${mib(read)} for ${challenged} challenges`);
      rows.push({
        label: `day ${day + 1}: the friend read to answer challenges`,
        value: `${mib(read)} = ${((100 * read) / heldBytes).toFixed(2)}% of what it holds, ${challenged} challenge(s) in ${roundsPerDay} rounds`,
        ...judge(read),
      });
    }
    let worst = 0;
    for (let i = 0; i + roundsPerDay <= perRound.length; i++)
      worst = Math.max(
        worst,
        perRound.slice(i, i + roundsPerDay).reduce((a, b) => a + b, 0),
      );
    report.measured.worst24hBytes = worst;
    rows.push({
      label: 'most the friend read in any 24 hours (sliding over the rounds)',
      value: `${mib(worst)} = ${((100 * worst) / heldBytes).toFixed(2)}%`,
      ...judge(worst),
    });
    const days = (now - dayStart) / DAY_MS;
    rows.push({
      label: 'the owner read of its own packs to check the answers',
      value: `${mib(ownerRead.bytes / days)} per day (the challenged ranges of its own copy; the whole pack is hashed only before an answer that differs convicts the friend)`,
    });
    const pace = challengedPerDay.reduce((a, b) => a + b, 0) / report.days;
    const passDays = report.packs / pace;
    rows.push({
      label: 'every pack challenged once, at the simulated days’ pace',
      value: pace > 0 ? `${passDays.toFixed(1)} days (${pace.toFixed(1)} challenges a day)` : `not measured: no challenge in ${report.days} simulated day(s)`,
      target: `within the audit period (${audit.periodMs / DAY_MS} d)`,
      ...(pace > 0 ? { met: passDays <= audit.periodMs / DAY_MS } : {}),
    });
    rows.push({ label: 'slowest of the simulated rounds', value: secs(slowestRoundMs) });

    // replication with and without challenges in the way
    // long enough for the budget to reach its cap (at least a day; what a round can be made to read at
    // most), but under half of repair-after: a friend unseen longer than that would stop counting
    const perDayRefill = sharePerDay * (24 / 25);
    const fullBudgetMs = Math.min(CONFIG_DEFAULTS.friends.repairAfterMs / 2, Math.max(DAY_MS, Math.ceil(((2 * maxSample) / perDayRefill) * DAY_MS)));
    /** One round pushing `pushBytes` of new data, with the rotation's budget saved up or not. */
    const pushRound = async (challengesDue: boolean) => {
      await addData(pushBytes);
      now += challengesDue ? fullBudgetMs : 1;
      const passedBefore = await owner.ledgers.challenges.lastPassed(friend.peerId);
      const readBefore = friendRead.bytes;
      const what = challengesDue ? 'a round with challenges due' : 'a round with no challenge due';
      const r = await round(what);
      if (r.result.underReplicated > 0) throw new Error(`${what}: ${r.result.underReplicated} packs left without a copy`);
      const passed = [...(await owner.ledgers.challenges.lastPassed(friend.peerId)).entries()].filter(
        ([id, t]) => t === now && passedBefore.get(id) !== t,
      ).length;
      return { ms: r.ms, pushedBytes: r.result.pushedBytes, passed, read: friendRead.bytes - readBefore };
    };
    const plain: Awaited<ReturnType<typeof pushRound>>[] = [];
    const due: Awaited<ReturnType<typeof pushRound>>[] = [];
    for (let i = 0; i < PUSH_SAMPLES; i++) {
      plain.push(await pushRound(false));
      due.push(await pushRound(true));
    }
    const describe = (xs: typeof plain) => {
      const best = xs.reduce((a, b) => (b.ms < a.ms ? b : a));
      return (
        `${secs(best.ms)} best of ${xs.length} (${xs.map((x) => (x.ms / 1000).toFixed(2)).join(', ')} s): ${mib(best.pushedBytes)} pushed, ` +
        `${(best.pushedBytes / MB / (best.ms / 1000)).toFixed(1)} MB/s; ${xs.reduce((n, x) => n + x.passed, 0)} challenges in all, the friend read ${mib(xs.reduce((n, x) => n + x.read, 0))} for them`
      );
    };
    rows.push({ label: 'replication round pushing new data, no challenge due', value: describe(plain) });
    rows.push({
      label: `the same with the rotation’s challenges due (its budget saved up: the clock moved ${(fullBudgetMs / DAY_MS).toFixed(1)} d before each)`,
      value: describe(due),
    });
    const bestMs = (xs: typeof plain) => Math.min(...xs.map((x) => x.ms));
    rows.push({ label: 'replication with challenges due against without (best of each)', value: `${(bestMs(due) / bestMs(plain)).toFixed(2)}x the time` });

    // a round asked for while `cairn audit` challenges every pack at the friend
    await addData(pushBytes);
    now += 1;
    const readBefore = friendRead.bytes;
    const auditStarted = process.hrtime.bigint();
    const auditing = within(owner.replication.audit(), ROUND_DEADLINE_MS, '`cairn audit`').then((a) => ({
      a,
      ms: Number(process.hrtime.bigint() - auditStarted) / 1e6,
    }));
    const asked = process.hrtime.bigint();
    const replicating = within(owner.replication.replicate(), ROUND_DEADLINE_MS, 'the round asked for during `cairn audit`').then((r) => ({
      r,
      ms: Number(process.hrtime.bigint() - asked) / 1e6,
    }));
    const [{ a, ms: auditMs }, { r, ms: repMs }] = await Promise.all([auditing, replicating]);
    const failed = a.reports.reduce((n, f) => n + f.failed.length, 0);
    const challenged = a.reports.reduce((n, f) => n + f.challenged, 0);
    report.measured.auditReadBytes = friendRead.bytes - readBefore;
    report.measured.auditChallenges = challenged;
    rows.push({
      label: '`cairn audit` (every pack at the friend, one round)',
      value: `${secs(auditMs)}: ${challenged} challenges, ${failed} failed, the friend read ${mib(friendRead.bytes - readBefore)} (asked for: not under the daily share)`,
    });
    rows.push({
      label: 'a replication round asked for while `cairn audit` runs',
      value: `completed ${secs(repMs)} after it was asked (rounds run one at a time: it waits for the audit's round, which pushed the new data itself), ${r.underReplicated} packs short of copies`,
      target: 'completes, nothing left short',
      met: r.underReplicated === 0 && r.problems.length === 0,
    });
  } catch (err) {
    report.error = err instanceof Error ? err.message : String(err);
    cfg.log(`audit: FAILED: ${report.error}`);
  } finally {
    for (const m of meshes.reverse()) await m.stop().catch(() => undefined);
    for (const r of repos) await r.close().catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
  return report;
}

export function renderAuditSection(r: AuditReport, info: { command: string; machine: string }): string {
  const lines = [
    AUDIT_BEGIN,
    '## Storage challenges: what the audit costs a friend',
    '',
    `Generated by \`npm run bench\` (bench/audit.ts) on ${r.startedAt.toISOString()}; do not edit by hand.`,
    '',
    `- **Command:** \`${info.command}\``,
    `- **Machine:** ${info.machine}`,
    `- **Setup:** an owner and a friend, two meshes as the agent composes them (from dist/) with real repositories, in one process, TCP on loopback, on one injected clock; the owner backs up ${(r.heldBytes / MIB).toFixed(0)} MiB of incompressible 1 MiB blobs (\`CAIRN_BENCH_AUDIT_BYTES\`), ${r.packs} packs, and replicates them to the friend (replicas 1). Then ${r.days} simulated days (\`CAIRN_BENCH_AUDIT_DAYS\`) of real replication rounds, one every ${r.roundEveryMs / 60_000} min of the clock (Cairn's \`replicate-every\`), with Cairn's default audit settings: period ${r.periodMs / DAY_MS} d, daily share ${(r.dailyShare * 100).toFixed(2)}%.`,
    '',
  ];
  if (r.error !== null) lines.push(`**The audit benchmark failed:** ${escape(r.error)}`, '');
  lines.push('| metric | value | target | met? |', '|---|---|---|---|');
  for (const row of r.rows)
    lines.push(
      `| ${row.label} | ${escape(row.value)} | ${row.target ?? ''} | ${row.verdict ?? (row.met === undefined ? '' : row.met ? 'met' : '**not met**')} |`,
    );
  lines.push(
    '',
    "- The friend's reads are counted at its store of the owner's packs (every read a challenge answer makes goes through it); no restore or other owner uses it during the run. The first simulated day starts with an empty budget (SPEC 13.8), so day 1 reads less than the steady state.",
    "- Times are wall-clock on a shared machine; the replication rows compare rounds pushing the same amount of new data, rounds with no challenge due (the clock moved 1 ms since the last round) alternating with rounds after the clock moved long enough for the rotation's budget to reach its cap (the most a round's challenges can read; under half of repair-after), three of each, best of each compared.",
    "- A challenge reads whole samples (at most 1 MiB of a pack), so over a short window the reads can pass the share by less than a sample; SPEC 13.8 bounds any 24 hours by the share plus two samples. With little held (a sample larger than a day's share) a day with one challenge is over the share; with 1 GiB of full packs a day's share is about 10 samples.",
    AUDIT_END,
  );
  return lines.join('\n');
}

/** Replaces the audit section of an existing report (or appends it). */
export function mergeAuditSection(existing: string, section: string): string {
  return mergeMarked(existing, AUDIT_BEGIN, AUDIT_END, section);
}

/** The audit section of an existing report, to carry over when the engine part rewrites the report. */
export function existingAuditSection(existing: string | null): string | null {
  return existingMarked(existing, AUDIT_BEGIN, AUDIT_END);
}
