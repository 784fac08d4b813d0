// The growth part of `npm run bench` (issue 20 item 5; CAIRN_BENCH_ONLY=growth): Cairn's peak memory,
// command by command, on the reference data set and on a larger one (at least GROWTH_FACTOR times
// its bytes: make-dataset.sh at a larger pgbench scale), to show whether memory stays flat as the
// data grows. Cairn only, each set into a fresh repository; the comparison with restic and borg is
// the engine part's. Every restore is compared with its source, byte for byte (content digests).
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { datasetScript, ensureDataset, SOURCE_DIRS, treeStats, type TreeStats } from './dataset.js';
import { waitForQuiet, type RunResult } from './exec.js';
import { escape, existingMarked, MB, MIB, mergeMarked, RSS_LIMIT_BYTES } from './report.js';
import { cairnTool } from './tools.js';

export const GROWTH_BEGIN = '<!-- growth:begin (bench/growth.ts) -->';
export const GROWTH_END = '<!-- growth:end -->';
/** The larger set must hold at least this many times the reference set's bytes (issue 20 item 5). */
export const GROWTH_FACTOR = 3;
/** "Flat": no command's peak RSS grows by more than this on the larger set. */
export const FLAT_CHANGE = 0.1;
/** pgbench scale of the larger set when it has to be built: about 4.1 GB of database plus the same files/, 3.2x the reference (scale 30). */
export const LARGE_SCALE_DEFAULT = '200';

export interface GrowthStep {
  step: 'first backup' | 'unchanged re-run' | 'restore';
  seconds: number;
  peakRssBytes: number | null;
}

export interface GrowthRun {
  label: string;
  bytes: number;
  files: number;
  steps: GrowthStep[];
  /** The restore equals the source (content digests), or what differs. */
  restoreMatches: boolean;
}

export interface GrowthOptions {
  root: string;
  workDir: string;
  referenceDir: string;
  largeDir: string;
  largeScale: string;
  quietWaitS: number;
  quietBusyCores: number;
  log: (m: string) => void;
}

/** Backs up, re-runs and restores each set with Cairn, measuring every command. */
export async function runGrowthBench(o: GrowthOptions): Promise<GrowthRun[]> {
  const script = datasetScript(o.root);
  const runs: GrowthRun[] = [];
  for (const [label, dir, scale] of [
    ['reference', o.referenceDir, undefined],
    ['larger', o.largeDir, o.largeScale],
  ] as const) {
    o.log(`growth: data set ${dir}${scale === undefined ? '' : ` (built at scale ${scale} when missing)`}`);
    await ensureDataset(script, dir, scale);
    const sources = SOURCE_DIRS.map((d) => join(dir, d));
    const source = await treeStats(sources);
    const work = join(o.workDir, 'growth', label);
    await rm(work, { recursive: true, force: true });
    await mkdir(work, { recursive: true });
    const tool = cairnTool({ repoRoot: o.root, workDir: work, sources });
    const measured = async (fn: () => Promise<RunResult>): Promise<RunResult> => {
      if (o.quietWaitS > 0) await waitForQuiet(o.quietBusyCores, o.quietWaitS * 1000);
      return fn();
    };
    await tool.init();
    const steps: GrowthStep[] = [];
    const note = (step: GrowthStep['step'], r: RunResult) => steps.push({ step, seconds: r.seconds, peakRssBytes: r.peakRssBytes });
    note('first backup', await measured(() => tool.backup('first')));
    note('unchanged re-run', await measured(() => tool.backup('rerun')));
    const target = join(work, 'restore');
    await mkdir(target, { recursive: true });
    note('restore', await measured(() => tool.restore(target)));
    const restored: TreeStats = await treeStats([target]);
    runs.push({ label, bytes: source.bytes, files: source.files, steps, restoreMatches: restored.digest === source.digest && restored.bytes === source.bytes });
    await rm(work, { recursive: true, force: true });
  }
  return runs;
}

const mib = (b: number | null) => (b === null ? '?' : (b / MIB).toFixed(0));

/** The report's growth section: peak RSS per command on both sets, and what it says. */
export function renderGrowthSection(runs: GrowthRun[], meta: { command: string; machine: string }): string {
  const [ref, big] = runs as [GrowthRun, GrowthRun];
  const factor = big.bytes / ref.bytes;
  const lines = [
    GROWTH_BEGIN,
    '## Memory as the data grows (Cairn)',
    '',
    `Command: \`${escape(meta.command)}\`; machine: ${escape(meta.machine)}.`,
    '',
    `Each set is backed up into a fresh repository, backed up again unchanged, and restored; the reference set holds ${(ref.bytes / MB).toFixed(0)} MB in ${ref.files} files, the larger one ${(big.bytes / MB).toFixed(0)} MB in ${big.files} files (${factor.toFixed(2)}× the bytes).`,
    '',
    '| command | reference: peak RSS (MiB) | larger: peak RSS (MiB) | change | reference: time (s) | larger: time (s) |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  let worst = 0;
  let grew = 0;
  for (const s of ref.steps) {
    const b = big.steps.find((x) => x.step === s.step);
    const change = s.peakRssBytes !== null && b?.peakRssBytes != null ? (b.peakRssBytes - s.peakRssBytes) / s.peakRssBytes : null;
    worst = Math.max(worst, b?.peakRssBytes ?? 0, s.peakRssBytes ?? 0);
    grew = Math.max(grew, change ?? Infinity);
    const pct = change === null ? '?' : `${change >= 0 ? '+' : ''}${(change * 100).toFixed(0)}%`;
    lines.push(
      `| ${s.step} | ${mib(s.peakRssBytes)} | ${mib(b?.peakRssBytes ?? null)} | ${pct} | ${s.seconds.toFixed(2)} | ${b ? b.seconds.toFixed(2) : '?'} |`,
    );
  }
  lines.push('');
  if (factor < GROWTH_FACTOR)
    lines.push(
      `**The larger set is only ${factor.toFixed(2)}× the reference, below the ${GROWTH_FACTOR}× this comparison asks for:** build it at a larger scale (CAIRN_BENCH_LARGE_SCALE).`,
      '',
    );
  const matches = runs.every((r) => r.restoreMatches);
  lines.push(
    `Restores match their sources: ${
      matches
        ? 'yes, both'
        : `NO (${runs
            .filter((r) => !r.restoreMatches)
            .map((r) => r.label)
            .join(', ')})`
    }. ` +
      `Memory ${grew <= FLAT_CHANGE ? `stays flat: no command's peak grew by more than ${(FLAT_CHANGE * 100).toFixed(0)}%` : `grows with the data: a peak grew by ${grew === Infinity ? 'an unknown amount' : `${(grew * 100).toFixed(0)}%`}`} for ${factor.toFixed(2)}× the data. ` +
      `Largest peak: ${mib(worst)} MiB; the target (issue 20 item 5) is at most ${mib(RSS_LIMIT_BYTES)} MiB for every command and flat as the data grows: ${worst <= RSS_LIMIT_BYTES && grew <= FLAT_CHANGE ? 'met' : '**not met**'}.`,
    GROWTH_END,
  );
  return lines.join('\n');
}

/** Replaces the growth section of an existing report (or appends it). */
export function mergeGrowthSection(existing: string, section: string): string {
  return mergeMarked(existing, GROWTH_BEGIN, GROWTH_END, section);
}

/** The growth section of an existing report, to carry over when the engine part rewrites the report. */
export function existingGrowthSection(existing: string | null): string | null {
  return existingMarked(existing, GROWTH_BEGIN, GROWTH_END);
}
