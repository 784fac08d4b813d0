// Human output helpers: sizes, durations, tables.

import { scheduleInWords } from '../../../protocol/format.js';

export { formatBytes, formatTime, reachInWords } from '../../../protocol/format.js';

/** A cron schedule in words next to its text ("every 15 minutes (*\/15 * * * *)"), as the console shows it. */
export function scheduleWords(cron: string): string {
  const words = scheduleInWords(cron);
  return words === undefined ? cron : `${words.charAt(0).toLowerCase()}${words.slice(1)} (${cron})`;
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')).join('\n');
}

/** --json-progress: stdout is JSON lines (progress events, then the result as one `{"type":"result"}` line). */
let jsonLines = false;

export function useJsonLines(): void {
  jsonLines = true;
}

export function jsonLinesMode(): boolean {
  return jsonLines;
}

/** One JSON object on its own line (--json-progress's events). */
export function printJsonLine(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

export function printJson(value: unknown): void {
  if (jsonLines) return printJsonLine({ type: 'result', result: value });
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
