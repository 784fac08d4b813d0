// `npm run adversarial`: the long adversarial campaigns (SECURITY.md says what each does). Each
// campaign's last result replaces its block in SECURITY.md (between `<!-- campaign:NAME -->` and
// `<!-- /campaign:NAME -->`); the command exits 1 when any campaign found a problem.
//
// Environment:
//   CAIRN_ADV_ONLY        comma-separated campaigns to run (default: all): routes, mesh, faults
//   CAIRN_ADV_REQUESTS    requests of the routes campaign (default 100000)
//   CAIRN_ADV_FRAMES      hostile frames of the mesh soak (default 1000000); the soak itself is
//                         agent/test/adversarial/mesh-soak.test.ts, run here through vitest; its
//                         attackers (bench/adversarial/hostile-peer.ts) run in a process of their own
//   CAIRN_ADV_EVES        hostile friends in the soak (default 1), each paired with an invite of
//                         her own (alice's stream limits are per friend)
//   CAIRN_ADV_LANES, CAIRN_ADV_INFLIGHT, CAIRN_ADV_FRAMES_PER_STREAM
//                         the soak's fuzzing lanes (8), streams open at once per attacker (24) and
//                         most frames on one stream (16)
//   CAIRN_ADV_FAULTS      faults of the fault-injection campaign (default 1000); the campaign itself is
//                         agent/test/adversarial/faults.test.ts, run here through vitest
//   CAIRN_ADV_FAULT_KINDS the kinds of fault drawn, comma-separated (default all: backup, replicate,
//                         pack-put, prune, pairing, enospc, eio); e.g. the kills alone
//   CAIRN_ADV_MAX_SECONDS no new fault (or soak frame) starts after this many seconds; the report
//                         says how many ran of those asked for
//   CAIRN_ADV_SEED        seed of the random mutations (default: the time)
//   CAIRN_ADV_REPORT      the file to update (default SECURITY.md)
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runRouteCampaign, type RouteCampaignResult } from './routes.js';

function renderRoutes(r: RouteCampaignResult, when: string): string {
  const statuses = Object.entries(r.byStatus)
    .sort((a, b) => b[1] - a[1])
    .map(([s, n]) => `${s}: ${n}`)
    .join(', ');
  return [
    `Last run ${when}: ${r.requests.toLocaleString('en')} requests over ${r.routes} protected route/method pairs, seed ${r.seed}, ${r.seconds.toFixed(1)} s.`,
    `Answers by status: ${statuses}. **Let through: ${r.leaks.length}.**`,
    ...r.leaks.slice(0, 10).map((l) => `- ${l}`),
  ].join('\n');
}

async function replaceBlock(path: string, name: string, text: string): Promise<void> {
  const doc = await readFile(path, 'utf8');
  const open = `<!-- campaign:${name} -->`;
  const close = `<!-- /campaign:${name} -->`;
  const a = doc.indexOf(open);
  const b = doc.indexOf(close);
  if (a < 0 || b < a) throw new Error(`${path} has no ${open} ... ${close} block`);
  await writeFile(path, `${doc.slice(0, a + open.length)}\n${text}\n${doc.slice(b)}`);
}

interface SoakResult {
  frames: number;
  exchanges: number;
  seconds: number;
  framesPerSecond: number;
  seed: number;
  hostile: Record<string, unknown>;
  load: { before: string; during: string; after: string };
  cpu: { seconds: number; alice: number; attackers: number };
  cpuWait: Record<'before' | 'during' | 'after', { aliceMsPerS: number; carolMsPerS: number }>;
  rssBeforeMiB: number;
  rssPeakMiB: number;
  rssAfterMiB: number;
  minFreeMiB: number;
  floorMiB: number;
  honest: {
    baselineP50: number;
    baselineP99: number;
    underP50: number;
    underP99: number;
    afterP50: number;
    afterP99: number;
    puts: number;
    errorCount: number;
    errors: string[];
  };
  rounds: { count: number; maxMs: number; stalled: number; lastDetail: string };
  grants: Array<{ name: string; held: number; grant: number }>;
  alive: boolean;
  /** Alice on a CPU of her own; bob, carol and the attackers (SCHED_IDLE) on the other (mesh-soak.test.ts PIN). */
  pinned?: boolean;
  /** Hostile friends (eves) paired with alice, each with an invite of her own. */
  eves?: number;
}

/** Whether the honest friend's p99 under attack stayed under twice its baseline. */
function latencyOk(r: SoakResult): boolean {
  return r.honest.baselineP99 === 0 || r.honest.underP99 < 2 * r.honest.baselineP99;
}

function renderSoak(r: SoakResult | null, passed: boolean, when: string): string {
  if (!r) return `Last run ${when}: the soak did not finish (see its output). **Failed.**`;
  const ratio = r.honest.baselineP99 > 0 ? r.honest.underP99 / r.honest.baselineP99 : 0;
  const w = r.cpuWait;
  const streams = Object.entries((r.hostile.streams ?? {}) as Record<string, number>)
    .map(([p, n]) => `${p.replace(/^\/cairn\//, '').replace(/\/1\.0\.0$/, '')} ${n.toLocaleString('en')}`)
    .join(', ');
  const tiny = r.hostile.tinyPacks as { tried: number; stored: number } | undefined;
  const heads = r.hostile.headPuts as { tried: number; taken: number } | undefined;
  const drips = r.hostile.drips as { started: number } | undefined;
  return [
    `Last run ${when}: ${r.frames.toLocaleString('en')} hostile frames on ${r.exchanges.toLocaleString('en')} fuzzing streams (${streams}), ${r.framesPerSecond.toFixed(0)} frames/s, seed ${r.seed}, ${r.seconds.toFixed(0)} s. ${passed ? 'Passed.' : '**Failed.**'}`,
    `Attackers: ${r.eves ?? 1} hostile friend${(r.eves ?? 1) === 1 ? '' : 's'} (eve) and one stranger (mallory). Named attacks alongside: ${tiny?.tried ?? 0} tiny packs (${tiny?.stored ?? 0} stored), ${heads?.tried ?? 0} signed head puts (${heads?.taken ?? 0} taken), ${String(r.hostile.floods ?? 0)} floods of 40 streams, ${drips?.started ?? 0} dripped puts, ${String(r.hostile.socketsOpened ?? 0)} idle TCP connections opened (50 held at a time).`,
    `Machine load (1/5/15 min) before / during / after: ${r.load.before} / ${r.load.during} / ${r.load.after} (2 cores, shared with other work). Alice waited for a CPU ${w.before.aliceMsPerS.toFixed(0)} / ${w.during.aliceMsPerS.toFixed(0)} / ${w.after.aliceMsPerS.toFixed(0)} ms per second, carol's process ${w.before.carolMsPerS.toFixed(0)} / ${w.during.carolMsPerS.toFixed(0)} / ${w.after.carolMsPerS.toFixed(0)}. CPU used during the attack: alice ${r.cpu.alice.toFixed(0)} s, the attackers ${r.cpu.attackers.toFixed(0)} s, in ${r.cpu.seconds.toFixed(0)} s. ${r.pinned ? 'Pinned: alice alone on CPU 0; bob and carol on CPU 1 beside the attackers, who ran there only when bob and carol had nothing to run (SCHED_IDLE).' : 'Not pinned: the attackers shared both CPUs with alice and carol.'}`,
    '',
    '| measure | result | bound |',
    '|---|---|---|',
    `| agent alive and healthy | ${r.alive ? 'yes' : '**no**'} | yes |`,
    `| RSS before / peak / after (MiB) | ${r.rssBeforeMiB.toFixed(0)} / ${r.rssPeakMiB.toFixed(0)} / ${r.rssAfterMiB.toFixed(0)} | growth < 64 |`,
    `| honest friend's pack-put p99 before / under / after attack (ms) | ${r.honest.baselineP99.toFixed(0)} / ${r.honest.underP99.toFixed(0)} / ${r.honest.afterP99.toFixed(0)} (${ratio.toFixed(2)}x; p50 ${r.honest.baselineP50.toFixed(0)} / ${r.honest.underP50.toFixed(0)} / ${r.honest.afterP50.toFixed(0)}; ${r.honest.puts} puts under attack, ${r.honest.errorCount} failed) | < 2x |`,
    `| replication rounds, longest (s), stalled | ${r.rounds.count}, ${(r.rounds.maxMs / 1000).toFixed(1)}, ${r.rounds.stalled} | 0 stalled |`,
    `| free disk, lowest (MiB) | ${r.minFreeMiB.toFixed(0)} | >= floor ${r.floorMiB.toFixed(0)} |`,
    `| held for each friend / granted (bytes) | ${r.grants.map((g) => `${g.name} ${g.held} / ${g.grant}`).join('; ')} | held <= granted |`,
  ].join('\n');
}

interface FaultsResult {
  faults: number;
  asked: number;
  stoppedEarly: 'failures' | 'time' | null;
  complete: boolean;
  exactFriendChecks: number;
  seed: number;
  seconds: number;
  byOp: Record<string, { runs: number; interrupted: number }>;
  failures: Array<{ iteration: number; op: string; detail: string }>;
  restoresChecked: number;
  snapshotsAtEnd: number;
  enospc: string;
  eio: string;
  pairing: string;
}

function renderFaults(r: FaultsResult | null, passed: boolean, when: string): string {
  if (!r) return `Last run ${when}: the campaign did not finish (see its output). **Failed.**`;
  const ran =
    r.faults === r.asked
      ? `${r.faults.toLocaleString('en')} faults`
      : `${r.faults.toLocaleString('en')} of the ${r.asked.toLocaleString('en')} faults asked for (${!r.complete ? 'the run was cut off' : r.stoppedEarly === 'time' ? 'stopped by its time budget, CAIRN_ADV_MAX_SECONDS' : 'stopped after 3 failures'})`;
  return [
    `Last run ${when}: ${ran}, seed ${r.seed}, ${r.seconds.toFixed(0)} s, ${r.restoresChecked} restores compared, ${r.exactFriendChecks} friend checks on stopped agents (the others on copies of the running agents' databases, confirmed stopped when they showed anything). ${passed ? 'Passed.' : '**Failed.**'}`,
    '',
    '| fault | runs | operation cut short (killed before it ended; enospc: backup refused) |',
    '|---|---|---|',
    ...Object.entries(r.byOp).map(([op, s]) => `| ${op} | ${s.runs} | ${s.interrupted} |`),
    '',
    `**Failures: ${r.failures.length}.** ENOSPC: ${r.enospc}. EIO: ${r.eio}.`,
    ...r.failures.slice(0, 10).map((f) => `- #${f.iteration} ${f.op}: ${f.detail.slice(0, 300)}`),
  ].join('\n');
}

const only = (process.env.CAIRN_ADV_ONLY ?? 'routes,mesh,faults').split(',').map((s) => s.trim());
const report = process.env.CAIRN_ADV_REPORT ?? 'SECURITY.md';
const when = new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
let failed = false;

if (only.includes('routes')) {
  const requests = Number(process.env.CAIRN_ADV_REQUESTS ?? 100_000);
  const seed = Number(process.env.CAIRN_ADV_SEED ?? Math.floor(Math.random() * 2 ** 31));
  process.stderr.write(`routes: ${requests} mutated requests without valid credentials (seed ${seed})\n`);
  const r = await runRouteCampaign({ requests, seed });
  process.stdout.write(`${JSON.stringify({ campaign: 'routes', ...r })}\n`);
  await replaceBlock(report, 'routes', renderRoutes(r, when));
  if (r.leaks.length > 0) failed = true;
}

if (only.includes('mesh')) {
  const frames = Number(process.env.CAIRN_ADV_FRAMES ?? 1_000_000);
  const out = join(await mkdtemp(join(tmpdir(), 'cairn-adv-')), 'soak.json');
  process.stderr.write(`mesh: hostile friend and stranger soak, ${frames} frames\n`);
  const run = spawnSync('npx', ['vitest', 'run', 'agent/test/adversarial/mesh-soak.test.ts'], {
    stdio: 'inherit',
    env: { ...process.env, CAIRN_ADV_FRAMES: String(frames), CAIRN_ADV_RESULT: out },
  });
  const result = await readFile(out, 'utf8').then(
    (t) => JSON.parse(t) as SoakResult,
    () => null,
  );
  const passed = run.status === 0 && result !== null && latencyOk(result);
  await replaceBlock(report, 'mesh', renderSoak(result, passed, when));
  if (!passed) failed = true;
}

if (only.includes('faults')) {
  const faults = Number(process.env.CAIRN_ADV_FAULTS ?? 1000);
  const out = join(await mkdtemp(join(tmpdir(), 'cairn-adv-')), 'faults.json');
  process.stderr.write(`faults: ${faults} kills and full disks across backup, replicate, prune, pack-put and pairing\n`);
  const run = spawnSync('npx', ['vitest', 'run', 'agent/test/adversarial/faults.test.ts'], {
    stdio: 'inherit',
    env: { ...process.env, CAIRN_ADV_FAULTS: String(faults), CAIRN_ADV_RESULT: out },
  });
  const result = await readFile(out, 'utf8').then(
    (t) => JSON.parse(t) as FaultsResult,
    () => null,
  );
  const passed = run.status === 0 && result !== null && result.complete && result.failures.length === 0;
  await replaceBlock(report, 'faults', renderFaults(result, passed, when));
  if (!passed) failed = true;
}

process.exit(failed ? 1 : 0);
