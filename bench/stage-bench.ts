// The engine part's last section: where Cairn's CPU goes, stage by stage and thread by thread, in
// each of its steps (bench/stages.ts), and the floor of each stage of a first backup on this
// machine (bench/floors.ts) against what Cairn spends on it. Runs after the tool comparison, in a
// home of its own: init, then each step once more with `node --cpu-prof`, `make-dataset.sh mutate`
// once more before the incremental backup (as in the comparison), then the floors.
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { mutateDataset } from './dataset.js';
import type { RunResult } from './exec.js';
import { measureFloors, type Floors } from './floors.js';
import { BASELINE, MB, SUBJECT } from './report.js';
import type { Results } from './results.js';
import { MAIN, readProfiles, renderStageTable, samplingRatio, scaleToCpu, stageTable, stageTotal, tableTotal, type StageTable } from './stages.js';
import { cairnTool, type Tool } from './tools.js';

export interface StageBenchInput {
  root: string;
  /** The engine part's working dir; this part works in WORK/stages. */
  workDir: string;
  /** The data every tool backed up (WORK/data/pg, WORK/data/files). */
  sources: string[];
  /** make-dataset.sh, for the mutation before the incremental backup. */
  script: string;
  /** The comparison's results: the unprofiled commands and restic's throughput. */
  results: Results;
  cores: number;
  /** Before each measured command: `sync` and the wait for an idle machine. */
  settle(): Promise<void>;
  log(text: string): void;
}

interface ProfiledStep {
  step: string;
  run: RunResult;
  table: StageTable;
}

/** The steps of the comparison that Cairn runs, by the names results.commands has them under. */
const STEPS: ReadonlyArray<{ step: string; mutateFirst?: boolean; run(tool: Tool, restoreTarget: string): Promise<RunResult> }> = [
  { step: 'first backup', run: (t) => t.backup('first') },
  { step: 'unchanged re-run', run: (t) => t.backup('rerun') },
  { step: 'incremental backup', mutateFirst: true, run: (t) => t.backup('incremental') },
  {
    step: 'restore',
    run: async (t, target) => {
      await mkdir(target, { recursive: true });
      try {
        return await t.restore(target);
      } finally {
        await rm(target, { recursive: true, force: true });
      }
    },
  },
];

/** Runs the profiled steps and the floors; returns the section's markdown lines. */
export async function runStageBench(input: StageBenchInput): Promise<string[]> {
  const work = join(input.workDir, 'stages');
  await rm(work, { recursive: true, force: true });
  let profileDir = '';
  const tool = cairnTool({ repoRoot: input.root, workDir: work, sources: input.sources }, () =>
    profileDir === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`],
  );
  await tool.init();
  const restoreTarget = join(work, 'restore');
  const steps: ProfiledStep[] = [];
  for (const s of STEPS) {
    if (s.mutateFirst === true) {
      input.log('stages: mutating pg/ once more for the profiled incremental backup');
      await mutateDataset(input.script, dirname(input.sources[0] as string));
    }
    profileDir = join(work, 'profiles', s.step.replace(/\W+/g, '-'));
    await mkdir(profileDir, { recursive: true });
    await input.settle();
    input.log(`stages: Cairn ${s.step}, profiled...`);
    const run = await s.run(tool, restoreTarget);
    steps.push({ step: s.step, run, table: stageTable(await readProfiles(profileDir)) });
  }
  profileDir = '';
  await input.settle();
  input.log('stages: floors per stage (one core)...');
  const floors = measureFloors(input.sources);
  return renderStageSection(steps, floors, input);
}

const s2 = (v: number) => v.toFixed(2);

/** What the command's threads reported (CAIRN_CPU_REPORT), by kind as stages.ts names them. */
function cpuByKind(run: RunResult): Record<string, number> | undefined {
  const t = run.threadCpu;
  return t === undefined ? undefined : { [MAIN]: t.mainS, ...t.workersS };
}

function renderStageSection(steps: ProfiledStep[], floors: Floors, input: StageBenchInput): string[] {
  const out = [`## ${SUBJECT}'s CPU by stage`, ''];
  for (const p of steps) {
    const measured = input.results.commands.find((c) => c.tool === SUBJECT && c.step === p.step && c.ok);
    const cpu = p.run.cpuSeconds;
    const byKind = cpuByKind(p.run);
    const threads = byKind === undefined ? 0 : Object.values(byKind).reduce((a, b) => a + b, 0);
    out.push(`### ${p.step}`, '');
    out.push(
      `Profiled run: ${s2(p.run.seconds)} s, ${cpu === null ? '?' : s2(cpu)} CPU-s` +
        (cpu !== null && byKind !== undefined ? `, of which ${s2(Math.max(0, cpu - threads))} in Node's own threads (no profile covers them)` : '') +
        (measured
          ? `; the same step unprofiled, in the comparison above: ${s2(measured.seconds)} s, ${measured.cpuSeconds === null ? '?' : s2(measured.cpuSeconds)} CPU-s.`
          : '.'),
      '',
    );
    if (byKind !== undefined) out.push(...busyWarning(samplingRatio(p.table, byKind)));
    out.push(...renderStageTable(p.table, byKind), '');
  }
  const first = steps.find((p) => p.step === 'first backup');
  const byKind = first === undefined ? undefined : cpuByKind(first.run);
  const table = first === undefined ? undefined : byKind === undefined ? first.table : scaleToCpu(first.table, byKind);
  out.push(...renderFloors(floors, table, input, first === undefined || byKind === undefined ? 1 : samplingRatio(first.table, byKind)));
  return out;
}

/** Above this many sampled seconds per CPU-s, the threads waited for cores long enough to skew the split. */
const BUSY_RATIO = 1.25;

function busyWarning(ratio: number): string[] {
  if (ratio <= BUSY_RATIO) return [];
  return [
    `**Busy machine:** the threads were seen busy for ${ratio.toFixed(2)}× the CPU they used, waiting for a core. A thread that waited is sampled ` +
      `where it gets its core back, often just after a system call, so this split leans towards the stages that make system calls ` +
      `(walk, read, writes) and away from pure computing (chunk, hashes, zstd). Rerun on an idle machine to trust it.`,
    '',
  ];
}

/** The floors table, what the first backup spent next to each floor, and the best first backup the floors allow. */
export function renderFloors(f: Floors, first: StageTable | undefined, input: Pick<StageBenchInput, 'results' | 'cores'>, firstRatio: number): string[] {
  const mb = f.dataBytes / MB;
  const out = ['## Floors per stage (first backup)', ''];
  out.push(
    `What each stage of a first backup costs on this machine for the data set's ${mb.toFixed(0)} MB in ${f.files} files, on one core, as a ` +
      `plain loop over the calls ${SUBJECT} makes, on bytes still in the CPU's cache as ${SUBJECT} has them (bench/floors.ts), next to the ` +
      `CPU-s ${SUBJECT}'s profiled first backup above spent in that stage, all threads together.`,
    '',
    ...busyWarning(firstRatio),
  );
  out.push(`| floor | what the loop does | CPU-s | data set MB per CPU-s | ${SUBJECT} (s) | ${SUBJECT} / floor |`);
  out.push('|---|---|---:|---:|---:|---:|');
  let floorSum = 0;
  let cairnSum = 0;
  const below: string[] = [];
  for (const fl of f.floors) {
    const cairn = first === undefined ? undefined : stageTotal(first, fl.stage);
    floorSum += fl.cpuS;
    cairnSum += cairn ?? 0;
    if (cairn !== undefined && cairn < fl.cpuS) below.push(fl.label);
    const ratio = cairn === undefined || fl.cpuS <= 0 ? '–' : `${(cairn / fl.cpuS).toFixed(1)}×`;
    out.push(
      `| ${fl.label} | ${fl.what} | ${s2(fl.cpuS)} | ${fl.cpuS > 0 ? (mb / fl.cpuS).toFixed(0) : '–'} | ${cairn === undefined ? '–' : s2(cairn)} | ${ratio} |`,
    );
  }
  const total = first === undefined ? undefined : tableTotal(first);
  if (total !== undefined) out.push(`| everything else ${SUBJECT} does | no floor measured | | | ${s2(total - cairnSum)} | |`);
  out.push(
    `| **sum** | | **${s2(floorSum)}** | **${(mb / floorSum).toFixed(0)}** | ${total === undefined ? '–' : `**${s2(total)}**`} | ${total === undefined ? '' : `**${(total / floorSum).toFixed(1)}×**`} |`,
    '',
  );
  if (below.length > 0)
    out.push(
      `**Below the floor:** ${below.join(', ')}. ${SUBJECT} spent less in ${below.length === 1 ? 'this stage' : 'these stages'} than the plain loop, ` +
        `so the loop is not the least the stage can cost here, or the profile gives part of the stage to other rows (a stage row is a share of ` +
        `its thread's sampled time, the floor the thread's own CPU clock around the loop). Read ${below.length === 1 ? 'that floor' : 'those floors'} ` +
        `and the bound below as approximate.`,
      '',
    );
  const bestS = floorSum / input.cores;
  const bestMbps = mb / bestS;
  const restic = input.results.value(BASELINE, 'first.mbps');
  const cairn = input.results.value(SUBJECT, 'first.mbps');
  let verdict = `${BASELINE}'s first-backup throughput was not measured, so the target (2× ${BASELINE}) is unknown.`;
  if (restic !== undefined) {
    const target = 2 * restic;
    verdict =
      `The target, 2× ${BASELINE}'s ${restic.toFixed(1)} MB/s = ${target.toFixed(1)} MB/s, is ` +
      (bestMbps >= target
        ? `within the floors' reach (they allow ${(bestMbps / restic).toFixed(1)}× ${BASELINE}).`
        : `out of reach on this machine: the floors alone allow at most ${(bestMbps / restic).toFixed(1)}× ${BASELINE}.`);
  }
  out.push(
    `**Best first backup possible here:** the floors add up to ${s2(floorSum)} CPU-s; spread perfectly over the machine's ${input.cores} cores ` +
      `that is ${s2(bestS)} s, ${bestMbps.toFixed(0)} MB/s for this data set (with no pack writes, index, trees or anything else counted). ${verdict}` +
      (cairn === undefined
        ? ''
        : ` ${SUBJECT}'s first backup in the comparison: ${cairn.toFixed(1)} MB/s, ${((100 * cairn) / bestMbps).toFixed(0)}% of that bound.`),
  );
  return out;
}

/** "How to read" bullets for the two sections above. */
export const STAGE_NOTES: readonly string[] = [
  `- ${SUBJECT}'s CPU by stage: after the comparison, each ${SUBJECT} step runs once more, in a home of its own (\`$WORK/stages\`) and with V8's sampling profiler on (\`node --cpu-prof\`, a sample every millisecond): the main thread and every worker thread write a profile (they stay in \`$WORK/stages/profiles\`, for Chrome DevTools). \`make-dataset.sh mutate\` runs once more before the profiled incremental backup, so it finds as much new data as the one above. Each sample counts for the stage of the first frame, from the sampled function up its callers, that bench/stages.ts STAGES names by script and function; a native frame (a system call, a hash update, a libc call through koffi) counts for the ${SUBJECT} function that called it. What no stage names is "other JS". Idle samples (a thread waiting in its event loop) are left out. The launcher's own profile (bin/cairn.js before it re-executes itself with its heap flags) is left out too; its CPU, which the main thread's report includes, is spread over the main thread's stages by the scaling below.`,
  `- The stage rows are CPU-s: each thread's samples (the time it was seen busy, a sample every millisecond) scaled so that the stages of a kind of thread add up to the CPU its threads reported themselves in that run (\`CAIRN_CPU_REPORT\`; the "all stages" row). Scaled, because sampling counts wall time: a thread waiting for a core on a busy machine, or blocked in a synchronous call (\`readSync\`, \`fsync\`), is seen busy in the function it is in. The last row gives the seconds as sampled; the further they are from the CPU row, the more the split leans on such waits falling on the stages in proportion, which they do not: a thread that waited is sampled where it gets its core back, often right after a system call. Above 1.25 sampled seconds per CPU-s a warning says so above the table: trust the split when the two rows are close. The profiler costs CPU of its own, so a profiled run is slower than the same step unprofiled (both given above each table). Node's own threads (V8's garbage collector helpers, libuv's file system pool, where the async pack writes and reads run) write no profile: their CPU is given above each table, not in it.`,
  `- Floors: each is the CPU one core needs for that stage over the same data, with the simplest loop around the primitives ${SUBJECT} uses (its FastCDC chunker, HMAC-SHA256, zstd level 3, XChaCha20-Poly1305 from sodium-native, SHA-256), timed by the thread's CPU clock around batches of 64 MB of whole files. Compress, seal and pack SHA-256 only see the chunks not seen before, as a backup does. "${SUBJECT} / floor" near 1 means that stage cannot get much cheaper here; the stages without a floor (start-up, unlock, copies, hand-offs, pack writes, index, trees, GC) are overhead that a faster ${SUBJECT} would have to shrink. The best first backup possible is the sum of the floors spread over all cores, a bound Cairn cannot beat with these stages on this machine.`,
];
