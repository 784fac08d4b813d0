// The rows of the report (one per metric, targets from the issue) and its markdown rendering.
// A new measurement is a new entry in METRICS plus a step in run.ts that fills it.
import type { Cell, CommandRecord, Results } from './results.js';

export const MB = 1e6;
export const MIB = 1024 * 1024;
export const RSS_LIMIT_BYTES = 200 * MIB;
export const SUBJECT = 'Cairn';
export const BASELINE = 'restic';

export interface Target {
  /** How the target reads in the table, e.g. "≥ 2× restic". */
  text: string;
  /** Cairn must be at least (`higher`) or at most (`lower`) the threshold. */
  better: 'higher' | 'lower';
  threshold(r: Results): number | undefined;
}

export interface Metric {
  key: string;
  label: string;
  format(v: number): string;
  target?: Target;
}

const seconds = (v: number) => v.toFixed(2);
const mbps = (v: number) => v.toFixed(1);
const mb = (v: number) => (v / MB).toFixed(1);
const mib = (v: number) => (v / MIB).toFixed(0);

const vsBaseline = (factor: number, key: string, better: Target['better']): Target => ({
  text: `${better === 'higher' ? '≥' : '≤'} ${factor === 1 ? '' : `${factor}× `}${BASELINE}`,
  better,
  threshold: (r) => {
    const b = r.value(BASELINE, key);
    return b === undefined ? undefined : b * factor;
  },
});

export const METRICS: readonly Metric[] = [
  { key: 'first.seconds', label: 'First backup: time (s)', format: seconds },
  { key: 'first.mbps', label: 'First backup: throughput (MB/s)', format: mbps, target: vsBaseline(2, 'first.mbps', 'higher') },
  { key: 'first.cpugb', label: 'First backup: CPU-s per GB', format: seconds },
  { key: 'first.rss', label: 'First backup: peak RSS (MiB)', format: mib },
  { key: 'rerun.seconds', label: 'Unchanged re-run: time (s)', format: seconds, target: vsBaseline(0.5, 'rerun.seconds', 'lower') },
  { key: 'rerun.rss', label: 'Unchanged re-run: peak RSS (MiB)', format: mib },
  { key: 'incr.seconds', label: 'Incremental after mutate: time (s)', format: seconds, target: vsBaseline(1, 'incr.seconds', 'lower') },
  { key: 'incr.added', label: 'Incremental: added to store (MB)', format: mb, target: vsBaseline(1, 'incr.added', 'lower') },
  { key: 'incr.rss', label: 'Incremental: peak RSS (MiB)', format: mib },
  { key: 'restore.seconds', label: 'Full restore of latest: time (s)', format: seconds },
  { key: 'restore.mbps', label: 'Full restore: throughput (MB/s)', format: mbps, target: vsBaseline(1.5, 'restore.mbps', 'higher') },
  { key: 'restore.cpugb', label: 'Full restore: CPU-s per GB', format: seconds },
  { key: 'restore.rss', label: 'Full restore: peak RSS (MiB)', format: mib },
  { key: 'restore.check', label: 'Restored files match source', format: String },
  { key: 'snapshots', label: 'Snapshots listed afterwards', format: String },
  { key: 'store.bytes', label: 'Store on disk after 3 backups (MB, du)', format: mb, target: vsBaseline(1, 'store.bytes', 'lower') },
  { key: 'cache.bytes', label: 'Client cache outside the store (MB, du)', format: mb },
  {
    key: 'rss.max',
    label: 'Peak RSS, any command (MiB)',
    format: mib,
    target: { text: '≤ 200 MiB', better: 'lower', threshold: () => RSS_LIMIT_BYTES },
  },
];

export interface ReportInput {
  tools: string[];
  results: Results;
  title: string;
  /** Markdown paragraphs/lists placed between the title and the table. */
  preamble: string[];
  /** Markdown sections placed after the results and CPU tables, before the list of commands. */
  sections?: string[];
  /** Markdown placed after the tables. */
  notes: string[];
  /** Shortens long paths in the command list. */
  abbreviate(text: string): string;
}

export function renderReport(input: ReportInput): string {
  const { tools, results } = input;
  const lines: string[] = [`# ${input.title}`, '', ...input.preamble, ''];
  lines.push('## Results', '');
  lines.push(`| metric | ${tools.join(' | ')} | target (${SUBJECT}) | met? |`);
  lines.push(`|---|${tools.map(() => '---:').join('|')}|---|---|`);
  for (const m of METRICS) {
    const cells = tools.map((t) => renderCell(results.get(t, m.key), m));
    const { target, met } = judge(m, results);
    lines.push(`| ${m.label} | ${cells.join(' | ')} | ${target} | ${met} |`);
  }
  lines.push(...threadTable(input.results.commands));
  if (input.sections !== undefined && input.sections.length > 0) lines.push('', ...input.sections);
  lines.push('', '## Every command', '');
  lines.push('| tool | step | wall s | CPU s | other CPU s | peak RSS (MiB) | result | command |');
  lines.push('|---|---|---:|---:|---:|---:|---|---|');
  for (const c of input.results.commands) lines.push(commandRow(c, input.abbreviate));
  lines.push('', ...input.notes, '');
  return lines.join('\n');
}

/** Cairn's CPU seconds per step by thread (from the commands that reported it). */
function threadTable(commands: readonly CommandRecord[]): string[] {
  const rows = commands.filter((c) => c.tool === SUBJECT && c.threadCpu !== undefined && c.cpuSeconds !== null && c.step !== 'init');
  if (rows.length === 0) return [];
  const kinds = [...new Set(rows.flatMap((c) => Object.keys(c.threadCpu?.workersS ?? {})))].sort();
  const out = ['', `## ${SUBJECT}'s CPU by thread`, ''];
  out.push(`| step | main thread (s) | ${kinds.map((k) => `${k} workers (s)`).join(' | ')}${kinds.length ? ' | ' : ''}Node's own threads (s) | all (s) |`);
  out.push(`|---|---:|${kinds.map(() => '---:|').join('')}---:|---:|`);
  for (const c of rows) {
    const t = c.threadCpu as NonNullable<CommandRecord['threadCpu']>;
    const workers = kinds.map((k) => t.workersS[k] ?? 0);
    const rest = Math.max(0, (c.cpuSeconds as number) - t.mainS - workers.reduce((a, b) => a + b, 0));
    out.push(
      `| ${c.step} | ${t.mainS.toFixed(2)} | ${workers.map((w) => `${w.toFixed(2)} | `).join('')}${rest.toFixed(2)} | ${(c.cpuSeconds as number).toFixed(2)} |`,
    );
  }
  return out;
}

function renderCell(cell: Cell | undefined, m: Metric): string {
  if (cell === undefined) return '–';
  switch (cell.kind) {
    case 'value':
      return m.format(cell.value);
    case 'text':
      return escape(cell.text);
    case 'failed':
      return `**failed**: ${escape(cell.error)}`;
    case 'skipped':
      return `_${escape(cell.reason)}_`;
  }
}

function judge(m: Metric, r: Results): { target: string; met: string } {
  if (m.target === undefined) return { target: '', met: '' };
  const threshold = m.target.threshold(r);
  const cmp = m.target.better === 'higher' ? '≥' : '≤';
  const text = threshold === undefined ? m.target.text : `${m.target.text} (${cmp} ${m.format(threshold)})`;
  const v = r.value(SUBJECT, m.key);
  if (threshold === undefined || v === undefined) return { target: text, met: 'n/a' };
  const ok = m.target.better === 'higher' ? v >= threshold : v <= threshold;
  return { target: text, met: ok ? 'met' : '**not met**' };
}

export function commandRow(c: CommandRecord, abbreviate: (s: string) => string): string {
  const rss = c.peakRssBytes === null ? '?' : mib(c.peakRssBytes);
  const result = c.ok ? 'ok' : `**failed**: ${escape(c.error ?? '')}`;
  const cpu = (v: number | null) => (v === null ? '?' : v.toFixed(1));
  return `| ${c.tool} | ${c.step} | ${c.seconds.toFixed(2)} | ${cpu(c.cpuSeconds)} | ${cpu(c.otherCpuSeconds)} | ${rss} | ${result} | \`${abbreviate(c.command).replace(/`/g, "'")}\` |`;
}

/** One line, safe inside a markdown table cell. */
export function escape(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return (line.length > 200 ? `${line.slice(0, 197)}...` : line).replace(/\|/g, '\\|');
}

/** The table alone, for stdout. */
export function resultsTable(markdown: string): string {
  const start = markdown.indexOf('## Results');
  const end = markdown.indexOf('## Every command');
  return markdown.slice(start, end === -1 ? undefined : end).trim();
}

/**
 * Puts `section` (which starts with `begin` and ends with `end`, two marker comments) in place of
 * the one in `existing`, or appends it when there is none.
 */
export function mergeMarked(existing: string, begin: string, end: string, section: string): string {
  const start = existing.indexOf(begin);
  const stop = existing.indexOf(end);
  if (start !== -1 && stop > start) return `${existing.slice(0, start)}${section}${existing.slice(stop + end.length)}`;
  return `${existing.trimEnd()}\n\n${section}\n`;
}

/** The section between the markers `begin` and `end` of an existing report (markers included), or null. */
export function existingMarked(existing: string | null, begin: string, end: string): string | null {
  if (existing === null) return null;
  const start = existing.indexOf(begin);
  const stop = existing.indexOf(end);
  return start !== -1 && stop > start ? existing.slice(start, stop + end.length) : null;
}
