// `npm run bench`: Cairn against restic and borg on the reference data set
// (../shared/bench/make-dataset.sh), one tool after another, written to BENCHMARKS.md.
// (Durability by the numbers is its own command, pure compute: `npm run durability`,
// bench/durability.ts, tables in docs/DURABILITY.md.)
//
// Environment:
//   CAIRN_BENCH_DATA    data set dir holding pg/ and files/ (default bench/data/dataset; built when missing)
//   CAIRN_BENCH_SCALE   pgbench scale when the data set has to be built (make-dataset.sh default: 30)
//   CAIRN_BENCH_WORK    working dir: copy of the data, stores, restores (default bench/work; wiped)
//   CAIRN_BENCH_TOOLS   comma-separated subset of cairn,restic,borg (default: all)
//   CAIRN_BENCH_ONLY    comma-separated parts to run: engine (the tool comparison), mesh (friend
//                       mesh on loopback, bench/mesh.ts), volume (the data set in a Docker volume,
//                       read through its mountpoint vs a helper container, bench/volume.ts; needs
//                       DOCKER_HOST's engine), nat (bench/nat.ts), audit (what storage challenges
//                       cost a friend and replication, bench/audit.ts), growth (Cairn's peak memory
//                       on the data set and on one at least 3x larger, bench/growth.ts); default all
//                       of them. A part that does not run keeps its previous section of the report.
//   CAIRN_BENCH_LARGE_DATA  the growth part's larger data set (default bench/data/dataset-large; built
//                       when missing at pgbench scale CAIRN_BENCH_LARGE_SCALE, default 200)
//   CAIRN_BENCH_MESH_BYTES  data size of the mesh part (default 1G; see bench/mesh.ts)
//   CAIRN_BENCH_AUDIT_BYTES what the friend holds in the audit part (default 1G), CAIRN_BENCH_AUDIT_DAYS
//                       simulated days of challenge rounds (default 2; see bench/audit.ts)
//   CAIRN_BENCH_REPORT  where to write the report (default BENCHMARKS.md)
//   CAIRN_BENCH_QUIET_S before each measured command, wait up to this many seconds for the machine
//                       to be idle (< QUIET_BUSY_CORES busy), default 120; 0 disables
//
// The run is a list of steps (STEPS below). A tool step runs once per tool, in tool order, before
// the next step starts; a global step runs once. A new row in the report is an entry in
// report.ts METRICS plus a step here that fills it.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { copyDataset, datasetScale, datasetScript, diskUsage, ensureDataset, mutateDataset, SOURCE_DIRS, treeStats, type TreeStats } from './dataset.js';
import { CommandError, describeFailure, findRoot, hasGnuTime, runOk, waitForQuiet, type RunResult } from './exec.js';
import { machineInfo } from './machine.js';
import { existingMeshSection, mergeMeshSection, renderMeshSection, runMeshBench } from './mesh.js';
import { existingVolumeSection, mergeVolumeSection, renderVolumeSection, runVolumeBench } from './volume.js';
import { existingNatSection, mergeNatSection, renderNatSection, runNatBench } from './nat.js';
import { existingAuditSection, mergeAuditSection, renderAuditSection, runAuditBench } from './audit.js';
import { existingGrowthSection, LARGE_SCALE_DEFAULT, mergeGrowthSection, renderGrowthSection, runGrowthBench } from './growth.js';
import { MB, MIB, METRICS, renderReport, resultsTable, SUBJECT } from './report.js';
import { Results, type CommandRecord } from './results.js';
import { runStageBench, STAGE_NOTES } from './stage-bench.js';
import { TOOL_FACTORIES, type Tool } from './tools.js';

/** The parts CAIRN_BENCH_ONLY may name. */
const PARTS = ['engine', 'mesh', 'volume', 'nat', 'audit', 'growth'];

/** "Idle" for the pre-command wait: all cores together busier than this means someone else is working. */
const QUIET_BUSY_CORES = 0.3;

interface Config {
  quietWaitS: number;
  root: string;
  dataDir: string;
  workDir: string;
  scale: string | undefined;
  tools: string[];
  parts: string[];
  reportPath: string;
}

interface Context {
  cfg: Config;
  results: Results;
  script: string;
  /** The copy every tool backs up: WORK/data/pg and WORK/data/files. */
  sources: string[];
  before: TreeStats | null;
  after: TreeStats | null;
  timings: { build: number; copy: number; mutate: number | null };
  /** Runs one tool command with `sync` first, and records it. Throws when it fails. */
  measure(tool: Tool, step: string, fn: () => Promise<RunResult>): Promise<RunResult>;
}

interface ToolStep {
  kind: 'tool';
  name: string;
  /** Metrics this step fills; on failure they show the error. */
  metrics: readonly string[];
  /** When it fails, later steps for that tool are skipped. */
  required?: boolean;
  run(ctx: Context, tool: Tool): Promise<void>;
}

interface GlobalStep {
  kind: 'global';
  name: string;
  run(ctx: Context): Promise<void>;
}

type Step = ToolStep | GlobalStep;

const STEPS: readonly Step[] = [
  {
    kind: 'tool',
    name: 'init',
    metrics: [],
    required: true,
    run: async (ctx, tool) => {
      await ctx.measure(tool, 'init', () => tool.init());
    },
  },
  {
    kind: 'tool',
    name: 'first backup',
    metrics: ['first.seconds', 'first.mbps', 'first.cpugb', 'first.rss'],
    required: true,
    run: async (ctx, tool) => {
      const r = await ctx.measure(tool, 'first backup', () => tool.backup('first'));
      setTimed(ctx, tool, 'first', r, (ctx.before as TreeStats).bytes);
    },
  },
  {
    kind: 'tool',
    name: 'unchanged re-run',
    metrics: ['rerun.seconds', 'rerun.rss'],
    run: async (ctx, tool) => {
      const r = await ctx.measure(tool, 'unchanged re-run', () => tool.backup('rerun'));
      setTimed(ctx, tool, 'rerun', r, null);
    },
  },
  {
    kind: 'global',
    name: 'mutate',
    run: async (ctx) => {
      log('mutating pg/ once for all tools (make-dataset.sh mutate: 20,000 pgbench transactions)');
      ctx.timings.mutate = await mutateDataset(ctx.script, dirname(ctx.sources[0] as string));
      ctx.after = await treeStats(ctx.sources);
    },
  },
  {
    kind: 'tool',
    name: 'incremental backup',
    metrics: ['incr.seconds', 'incr.added', 'incr.rss'],
    run: async (ctx, tool) => {
      const before = await diskUsage(tool.storeDir);
      const r = await ctx.measure(tool, 'incremental backup', () => tool.backup('incremental'));
      setTimed(ctx, tool, 'incr', r, null);
      ctx.results.set(tool.name, 'incr.added', (await diskUsage(tool.storeDir)) - before);
    },
  },
  {
    kind: 'tool',
    name: 'restore',
    metrics: ['restore.seconds', 'restore.mbps', 'restore.cpugb', 'restore.rss', 'restore.check'],
    run: async (ctx, tool) => {
      const target = join(ctx.cfg.workDir, 'restore', tool.name);
      await rm(target, { recursive: true, force: true });
      await mkdir(target, { recursive: true });
      try {
        const r = await ctx.measure(tool, 'restore', () => tool.restore(target));
        const source = ctx.after as TreeStats;
        setTimed(ctx, tool, 'restore', r, source.bytes);
        ctx.results.text(tool.name, 'restore.check', compareTrees(await treeStats([target]), source));
      } finally {
        await rm(target, { recursive: true, force: true });
      }
    },
  },
  {
    kind: 'tool',
    name: 'snapshots',
    metrics: ['snapshots'],
    run: async (ctx, tool) => {
      let count = 0;
      await ctx.measure(tool, 'list snapshots', async () => {
        const listed = await tool.snapshots();
        count = listed.count;
        return listed.run;
      });
      ctx.results.text(tool.name, 'snapshots', count === 3 ? '3' : `${count} (expected 3)`);
    },
  },
  {
    kind: 'tool',
    name: 'store size',
    metrics: ['store.bytes', 'cache.bytes'],
    run: async (ctx, tool) => {
      ctx.results.set(tool.name, 'store.bytes', await diskUsage(tool.storeDir));
      if (tool.cacheDir === null) ctx.results.text(tool.name, 'cache.bytes', 'none (all in store)');
      else ctx.results.set(tool.name, 'cache.bytes', await diskUsage(tool.cacheDir));
    },
  },
  {
    kind: 'tool',
    name: 'peak RSS',
    metrics: ['rss.max'],
    run: async (ctx, tool) => {
      const rss = ctx.results.commands.filter((c) => c.tool === tool.name && c.peakRssBytes !== null).map((c) => c.peakRssBytes as number);
      if (rss.length === 0) throw new Error(hasGnuTime() ? 'no command measured' : '/usr/bin/time missing (apt-get install time)');
      ctx.results.set(tool.name, 'rss.max', Math.max(...rss));
    },
  },
];

function setTimed(ctx: Context, tool: Tool, prefix: string, r: RunResult, bytes: number | null): void {
  ctx.results.set(tool.name, `${prefix}.seconds`, r.seconds);
  if (bytes !== null) ctx.results.set(tool.name, `${prefix}.mbps`, bytes / MB / r.seconds);
  if (bytes !== null && r.cpuSeconds !== null) ctx.results.set(tool.name, `${prefix}.cpugb`, r.cpuSeconds / (bytes / 1e9));
  if (r.peakRssBytes !== null) ctx.results.set(tool.name, `${prefix}.rss`, r.peakRssBytes);
  else ctx.results.text(tool.name, `${prefix}.rss`, '?');
}

function compareTrees(got: TreeStats, want: TreeStats): string {
  if (got.digest === want.digest && got.bytes === want.bytes) return `yes (${got.files} files, ${got.symlinks} symlinks)`;
  const diffs: string[] = [];
  if (got.files !== want.files) diffs.push(`${got.files}/${want.files} files`);
  if (got.symlinks !== want.symlinks) diffs.push(`${got.symlinks}/${want.symlinks} symlinks`);
  if (got.bytes !== want.bytes) diffs.push(`${got.bytes}/${want.bytes} bytes`);
  if (diffs.length === 0) diffs.push('same sizes, different contents');
  return `NO: ${diffs.join(', ')}`;
}

async function main(): Promise<void> {
  const root = findRoot(import.meta.dirname);
  const env = process.env;
  const cfg: Config = {
    quietWaitS: Number(env.CAIRN_BENCH_QUIET_S ?? '120'),
    root,
    dataDir: resolve(root, env.CAIRN_BENCH_DATA ?? 'bench/data/dataset'),
    workDir: resolve(root, env.CAIRN_BENCH_WORK ?? 'bench/work'),
    scale: env.CAIRN_BENCH_SCALE,
    tools: (env.CAIRN_BENCH_TOOLS ?? 'cairn,restic,borg')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s.length > 0),
    parts: (env.CAIRN_BENCH_ONLY ?? PARTS.join(','))
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s.length > 0),
    reportPath: resolve(root, env.CAIRN_BENCH_REPORT ?? 'BENCHMARKS.md'),
  };
  const unknown = cfg.parts.filter((p) => !PARTS.includes(p));
  if (unknown.length > 0) throw new Error(`CAIRN_BENCH_ONLY: unknown part(s) ${unknown.join(', ')} (${PARTS.join(', ')})`);
  const previous = await readFile(cfg.reportPath, 'utf8').catch(() => null);
  let markdown = previous ?? '';
  if (cfg.parts.includes('engine')) {
    markdown = await engine(cfg);
    const kept = existingMeshSection(previous);
    if (!cfg.parts.includes('mesh') && kept !== null) markdown = mergeMeshSection(markdown, kept);
    const keptVolume = existingVolumeSection(previous);
    if (!cfg.parts.includes('volume') && keptVolume !== null) markdown = mergeVolumeSection(markdown, keptVolume);
    const keptNat = existingNatSection(previous);
    if (!cfg.parts.includes('nat') && keptNat !== null) markdown = mergeNatSection(markdown, keptNat);
    const keptAudit = existingAuditSection(previous);
    if (!cfg.parts.includes('audit') && keptAudit !== null) markdown = mergeAuditSection(markdown, keptAudit);
    const keptGrowth = existingGrowthSection(previous);
    if (!cfg.parts.includes('growth') && keptGrowth !== null) markdown = mergeGrowthSection(markdown, keptGrowth);
  }
  if (cfg.parts.includes('mesh')) {
    if (!cfg.parts.includes('engine')) await mkdir(cfg.workDir, { recursive: true });
    const loadBefore = loadavg()[0] ?? 0;
    const report = await runMeshBench({ root, workDir: cfg.workDir, quietWaitS: cfg.quietWaitS, quietBusyCores: QUIET_BUSY_CORES, log }, env);
    const m = await machineInfo(cfg.workDir);
    const section = renderMeshSection(report, {
      command: commandLine(),
      machine: `${m.cores} cores, ${m.cpu}, ${m.memoryGiB} GiB RAM, Linux ${m.kernel}, harness on Node ${m.node} (agents and CLI on the Node bin/cairn.js picks), working dir on ${m.filesystem}`,
      load: otherLoad(report.commands, m.cores, loadBefore),
      abbreviate: (s) => s.split(cfg.workDir).join('$WORK').split(`${root}/`).join(''),
    });
    markdown = mergeMeshSection(markdown, section);
    process.stdout.write(`\n${section}\n`);
  }
  if (cfg.parts.includes('volume')) {
    await mkdir(cfg.workDir, { recursive: true });
    log(`data set ${cfg.dataDir}`);
    await ensureDataset(datasetScript(root), cfg.dataDir, cfg.scale);
    const loadBefore = loadavg()[0] ?? 0;
    const report = await runVolumeBench({
      root,
      workDir: cfg.workDir,
      dataDir: cfg.dataDir,
      quietWaitS: cfg.quietWaitS,
      quietBusyCores: QUIET_BUSY_CORES,
      log,
    });
    const m = await machineInfo(cfg.workDir);
    const scale = await datasetScale(cfg.dataDir);
    const section = renderVolumeSection(report, {
      command: commandLine(),
      machine: `${m.cores} cores, ${m.cpu}, ${m.memoryGiB} GiB RAM, Linux ${m.kernel}, Node ${m.node}, working dir on ${m.filesystem}; data set ${scale === null ? '(scale unknown)' : `scale ${scale}`}; Docker engine at ${process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock'}`,
      load: otherLoad(report.commands, m.cores, loadBefore),
      abbreviate: (s) => s.split(cfg.workDir).join('$WORK').split(`${root}/`).join(''),
    });
    markdown = markdown.trim() === '' ? `# Benchmarks\n\n${section}\n` : mergeVolumeSection(markdown, section);
    process.stdout.write(`\n${section}\n`);
  }
  if (cfg.parts.includes('nat')) {
    const report = await runNatBench(root, env, log);
    await mkdir(cfg.workDir, { recursive: true });
    const m = await machineInfo(cfg.workDir);
    const section = renderNatSection(report, {
      command: commandLine(),
      machine: `${m.cores} cores, ${m.cpu}, ${m.memoryGiB} GiB RAM, Linux ${m.kernel}, Node ${m.node}`,
    });
    markdown = markdown.trim() === '' ? `# Benchmarks\n\n${section}\n` : mergeNatSection(markdown, section);
    process.stdout.write(`\n${section}\n`);
  }
  if (cfg.parts.includes('audit')) {
    await mkdir(cfg.workDir, { recursive: true });
    const report = await runAuditBench({ workDir: cfg.workDir, log }, env);
    const m = await machineInfo(cfg.workDir);
    const section = renderAuditSection(report, {
      command: commandLine(),
      machine: `${m.cores} cores, ${m.cpu}, ${m.memoryGiB} GiB RAM, Linux ${m.kernel}, Node ${m.node}, working dir on ${m.filesystem}`,
    });
    markdown = markdown.trim() === '' ? `# Benchmarks\n\n${section}\n` : mergeAuditSection(markdown, section);
    process.stdout.write(`\n${section}\n`);
  }
  if (cfg.parts.includes('growth')) {
    await mkdir(cfg.workDir, { recursive: true });
    const runs = await runGrowthBench({
      root,
      workDir: cfg.workDir,
      referenceDir: cfg.dataDir,
      largeDir: resolve(root, env.CAIRN_BENCH_LARGE_DATA ?? 'bench/data/dataset-large'),
      largeScale: env.CAIRN_BENCH_LARGE_SCALE ?? LARGE_SCALE_DEFAULT,
      quietWaitS: cfg.quietWaitS,
      quietBusyCores: QUIET_BUSY_CORES,
      log,
    });
    const m = await machineInfo(cfg.workDir);
    const section = renderGrowthSection(runs, {
      command: commandLine(),
      machine: `${m.cores} cores, ${m.cpu}, ${m.memoryGiB} GiB RAM, Linux ${m.kernel}, Node ${m.node}, working dir on ${m.filesystem}`,
    });
    markdown = markdown.trim() === '' ? `# Benchmarks\n\n${section}\n` : mergeGrowthSection(markdown, section);
    process.stdout.write(`\n${section}\n`);
  }
  await writeFile(cfg.reportPath, markdown);
  process.stdout.write(`\nwritten to ${cfg.reportPath}\n`);
}

/** The tool comparison (restic, borg, Cairn on the reference data set): the report's markdown. */
async function engine(cfg: Config): Promise<string> {
  const root = cfg.root;
  const startedAt = new Date();
  const loadBefore = loadavg()[0] ?? 0;
  const script = datasetScript(root);
  const results = new Results();
  const dataCopy = join(cfg.workDir, 'data');
  const sources = SOURCE_DIRS.map((d) => join(dataCopy, d));
  const setup = { repoRoot: root, workDir: cfg.workDir, sources };
  const allTools = TOOL_FACTORIES.map((f) => f(setup));
  const tools = allTools.filter((t) => cfg.tools.includes(t.name.toLowerCase()));
  for (const t of allTools)
    if (!tools.includes(t))
      results.fill(
        t.name,
        METRICS.map((m) => m.key),
        { kind: 'skipped', reason: 'not yet run' },
      );

  log(`data set ${cfg.dataDir}`);
  const build = await ensureDataset(script, cfg.dataDir, cfg.scale);
  const scale = await datasetScale(cfg.dataDir);
  log(build === 0 ? 'reusing existing data set' : `built data set in ${build.toFixed(1)} s`);
  await rm(cfg.workDir, { recursive: true, force: true });
  await mkdir(cfg.workDir, { recursive: true });
  log(`copying it to ${dataCopy}`);
  const copy = await copyDataset(cfg.dataDir, dataCopy);
  const before = await treeStats(sources);
  const perDir = await Promise.all(sources.map((s) => treeStats([s])));
  log(`data set: ${(before.bytes / MB).toFixed(0)} MB in ${before.files} files`);

  const ctx: Context = {
    cfg,
    results,
    script,
    sources,
    before,
    after: null,
    timings: { build, copy, mutate: null },
    measure: (tool, step, fn) => measure(results, cfg.quietWaitS, tool, step, fn),
  };

  const broken = new Map<string, string>();
  let aborted: string | null = null;
  for (const step of STEPS) {
    if (step.kind === 'global') {
      if (aborted !== null) continue;
      try {
        await step.run(ctx);
      } catch (e) {
        aborted = `${step.name} failed: ${message(e)}`;
        log(aborted);
      }
      continue;
    }
    for (const tool of tools) {
      const skip = aborted ?? broken.get(tool.name);
      if (skip !== undefined) {
        results.fill(tool.name, step.metrics, { kind: 'skipped', reason: `skipped (${skip})` });
        continue;
      }
      try {
        await step.run(ctx, tool);
      } catch (e) {
        const error = message(e);
        log(`${tool.name} ${step.name} FAILED: ${error}`);
        results.fill(tool.name, step.metrics, { kind: 'failed', error });
        if (step.required === true) broken.set(tool.name, `${step.name} failed`);
      }
    }
  }

  // where Cairn's CPU goes, stage by stage, and the floor of each stage (bench/stage-bench.ts)
  let stages: string[] = [];
  if (aborted === null && tools.some((t) => t.name === SUBJECT) && !broken.has(SUBJECT)) {
    try {
      stages = await runStageBench({
        root,
        workDir: cfg.workDir,
        sources,
        script,
        results,
        cores: availableParallelism(),
        settle: () => settle(cfg.quietWaitS),
        log,
      });
    } catch (e) {
      log(`stages FAILED: ${message(e)}`);
      stages = [`## ${SUBJECT}'s CPU by stage`, '', `**failed**: ${message(e)}`];
    }
  }

  const versions = await Promise.all(
    allTools.map(async (t) => {
      const v = (await t.version().catch((e: unknown) => `unavailable: ${message(e)}`)).split('\n')[0] ?? '';
      return v.toLowerCase().startsWith(t.name.toLowerCase()) ? v : `${t.name} ${v}`;
    }),
  );
  const machine = await machineInfo(cfg.workDir);
  const command = commandLine();
  const abbreviate = (s: string) => s.split(cfg.workDir).join('$WORK').split(`${root}/`).join('');
  const mb = (b: number) => `${(b / MB).toFixed(0)} MB`;
  const preamble = [
    `Generated by \`npm run bench\` (bench/run.ts) on ${startedAt.toISOString()}; do not edit by hand.`,
    '',
    `- **Command:** \`${command}\``,
    `- **Machine:** ${machine.cores} cores (\`nproc\`), ${machine.cpu}, ${machine.memoryGiB} GiB RAM, ${machine.os}, Linux ${machine.kernel}, working dir on ${machine.filesystem}`,
    `- **Node:** ${machine.node} (runs Cairn)`,
    `- **Other load:** ${otherLoad(results.commands, machine.cores, loadBefore)}`,
    `- **Tools:** ${versions.join('; ')}`,
    `- **Data set:** \`make-dataset.sh\` (${scale === null ? 'scale unknown' : `scale ${scale}`}) at \`${relative(root, cfg.dataDir) || '.'}\`` +
      ` (${build === 0 ? 'reused' : `built in ${build.toFixed(0)} s`}), copied to \`$WORK/data\` in ${copy.toFixed(0)} s: ` +
      `pg/ ${mb(perDir[0]?.bytes ?? 0)} in ${perDir[0]?.files ?? 0} files, files/ ${mb(perDir[1]?.bytes ?? 0)} in ${perDir[1]?.files ?? 0} files; ` +
      `total ${mb(before.bytes)}, ${before.files} files, ${before.symlinks} symlinks` +
      (ctx.after === null ? '' : `; after mutate (${(ctx.timings.mutate ?? 0).toFixed(0)} s) ${mb(ctx.after.bytes)}`),
    `- **Idle wait:** ${cfg.quietWaitS > 0 ? `before each measured command the harness waited up to ${cfg.quietWaitS} s for the machine to be idle (< ${QUIET_BUSY_CORES} cores busy over 1 s); it cannot keep other work from starting during a command` : 'off (CAIRN_BENCH_QUIET_S=0)'}`,
    `- **Cache:** warm. The page cache cannot be dropped here; the data set was copied just before the run and fits in RAM, so every tool reads its source from memory. \`sync\` runs (untimed) before every measured command so no tool pays for another's dirty pages.`,
    `- **Order:** each step runs for ${tools.map((t) => t.name).join(', ')} in turn before the next step; \`make-dataset.sh mutate\` runs once, between the unchanged re-run and the incremental backup.`,
  ];
  const notes = [
    '## How to read this',
    '',
    '- Throughput = bytes of regular files in the data set (apparent size, MB = 10^6 bytes) / wall-clock seconds of the command.',
    '- Peak RSS = `ru_maxrss` reported by GNU time (`/usr/bin/time -f %M`): the largest RSS of the command or any child it waited for (MiB).',
    "- CPU-s per GB = the command's CPU s per 10^9 bytes of regular files it backed up or restored: what a slower, busier NAS pays for the same work. \"Cairn's CPU by thread\" splits Cairn's CPU s between its main thread (walk, read, chunk, hash, pack, write), its seal workers (compress + encrypt) and Node's own threads (V8's garbage collector helpers, libuv's file system pool), as each command reports it (`CAIRN_CPU_REPORT`).",
    '- CPU s = user + system seconds of the command (GNU time). Other CPU s = seconds all cores were busy during the command (`/proc/stat`) minus the command\'s own: other processes, and also kernel threads flushing the command\'s own writes. On 2 cores, other work near 1 core can slow multi-threaded tools (restic, Cairn) more than single-threaded borg; compare rows with similar "other CPU s".',
    '- Store = `du -s -B1` of the repository (restic, borg) or of the whole `CAIRN_HOME` (Cairn, including its local state). Client caches that restic (`RESTIC_CACHE_DIR`) and borg (`BORG_BASE_DIR`) keep outside the repository are shown on their own row.',
    '- Incremental "added to store" = store size after the incremental backup minus before it.',
    '- Restores go into an empty directory and are checked afterwards (untimed): the multiset of file contents and symlink targets must equal the mutated source.',
    '- Tool settings are their defaults: restic repository format as created by its `init` (zstd "auto" compression on v2), borg `init -e repokey` (lz4 compression), Cairn as `cairn init`. Passphrases come from the environment.',
    '- Targets come from the benchmark issue and compare Cairn with restic measured in the same run.',
  ];
  if (stages.length > 0) notes.push(...STAGE_NOTES);
  const markdown = renderReport({ tools: allTools.map((t) => t.name), results, title: 'Benchmarks', preamble, sections: stages, notes, abbreviate });
  process.stdout.write(`\n${preamble.join('\n')}\n\n${resultsTable(markdown)}\n`);
  return markdown;
}

/** Before a measured command: `sync` (untimed), then up to `quietWaitS` for the machine to go idle. */
async function settle(quietWaitS: number): Promise<void> {
  await runOk('sync', []);
  if (quietWaitS > 0) {
    const q = await waitForQuiet(QUIET_BUSY_CORES, quietWaitS * 1000);
    if (!q.quiet) log(`machine still busy (${q.busyCores.toFixed(2)} cores) after waiting ${q.waitedSeconds.toFixed(0)} s; measuring anyway`);
    else if (q.waitedSeconds > 2) log(`waited ${q.waitedSeconds.toFixed(0)} s for the machine to go idle`);
  }
}

async function measure(results: Results, quietWaitS: number, tool: Tool, step: string, fn: () => Promise<RunResult>): Promise<RunResult> {
  await settle(quietWaitS);
  log(`${tool.name}: ${step}...`);
  const started = process.hrtime.bigint();
  try {
    const r = await fn();
    results.commands.push({ ...pick(r), tool: tool.name, step, ok: true, error: null });
    log(`${tool.name}: ${step} ${r.seconds.toFixed(2)} s${r.peakRssBytes === null ? '' : `, peak RSS ${(r.peakRssBytes / MIB).toFixed(0)} MiB`}`);
    return r;
  } catch (e) {
    const r = e instanceof CommandError ? e.result : null;
    const seconds = r?.seconds ?? Number(process.hrtime.bigint() - started) / 1e9;
    const got = r === null ? { command: step, seconds, peakRssBytes: null, cpuSeconds: null, otherCpuSeconds: null } : pick(r);
    results.commands.push({ ...got, tool: tool.name, step, ok: false, error: message(e) });
    throw e;
  }
}

function otherLoad(commands: CommandRecord[], cores: number, loadBefore: number): string {
  const measured = commands.filter((c) => c.otherCpuSeconds !== null);
  const wall = measured.reduce((a, c) => a + c.seconds, 0);
  const other = measured.reduce((a, c) => a + (c.otherCpuSeconds as number), 0);
  const start = `1-minute load average ${loadBefore.toFixed(2)} at the start`;
  if (measured.length === 0 || wall === 0) return `${start}; CPU use by other processes not measured`;
  return (
    `${start}; during the ${measured.length} measured commands (${wall.toFixed(0)} s) other processes used ${other.toFixed(0)} CPU-seconds, ` +
    `on average ${(other / wall).toFixed(2)} of the ${cores} cores (column "other CPU s" below; near 0 means the machine was otherwise idle)`
  );
}

function pick(r: RunResult) {
  return {
    command: r.command,
    seconds: r.seconds,
    peakRssBytes: r.peakRssBytes,
    cpuSeconds: r.cpuSeconds,
    otherCpuSeconds: r.otherCpuSeconds,
    ...(r.threadCpu ? { threadCpu: r.threadCpu } : {}),
  };
}

function message(e: unknown): string {
  if (e instanceof CommandError) return describeFailure(e.result);
  return (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
}

function commandLine(): string {
  const vars = Object.entries(process.env)
    .filter(([k]) => k.startsWith('CAIRN_BENCH_'))
    .map(([k, v]) => `${k}=${v ?? ''}`)
    .sort();
  const base = process.env.npm_lifecycle_event === 'bench' ? 'npm run bench' : `node ${relative(process.cwd(), process.argv[1] ?? 'dist/bench/run.js')}`;
  return [...vars, base].join(' ');
}

function log(text: string): void {
  process.stderr.write(`[bench] ${text}\n`);
}

await main();
