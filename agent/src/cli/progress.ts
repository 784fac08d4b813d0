// A one-line progress display on a TTY (files, bytes of the total, percentage, rate, ETA); silent
// when stderr is not a TTY. With --json-progress it prints progress events (JSON lines on stdout)
// instead, TTY or not.
import type { JobProgress } from '../../../protocol/api.js';
import type { Clock } from '../util/clock.js';
import { formatBytes, formatDuration, jsonLinesMode, printJsonLine } from './format.js';

const REFRESH_MS = 250;
/** Progress events on stdout (--json-progress): at most one this often. */
const JSON_PROGRESS_EVERY_MS = 1000;

export interface ProgressSample {
  files: number;
  bytes: number;
  totalBytes?: number;
  totalFiles?: number;
  /** The rate as the sampler measured it (an agent's job); else bytes over the time since the line started. */
  bytesPerSec?: number;
}

/** "12/40 files, 1.2 GiB of 3.4 GiB (35%), 41.0 MB/s, ETA 53s": what a progress line says. */
export function progressText(label: string, s: ProgressSample, rate: number): string {
  const pct = s.totalBytes ? ` (${Math.min(100, Math.floor((100 * s.bytes) / s.totalBytes))}%)` : '';
  let line = `${label}: ${s.files}${s.totalFiles ? `/${s.totalFiles}` : ''} files, ${formatBytes(s.bytes)}${s.totalBytes ? ` of ${formatBytes(s.totalBytes)}${pct}` : ''}, ${formatBytes(rate)}/s`;
  if (s.totalBytes && rate > 0 && s.bytes <= s.totalBytes) line += `, ETA ${formatDuration(((s.totalBytes - s.bytes) / rate) * 1000)}`;
  return line;
}

/** The event --json-progress prints for a sample (the agent's JobProgress shape). */
export function progressEvent(s: ProgressSample, rate: number, currentPath = ''): { type: 'progress'; progress: JobProgress } {
  return {
    type: 'progress',
    progress: {
      files: s.files,
      bytes: s.bytes,
      bytesPerSec: Math.round(rate),
      currentPath,
      ...(s.totalFiles !== undefined ? { totalFiles: s.totalFiles } : {}),
      ...(s.totalBytes !== undefined ? { totalBytes: s.totalBytes } : {}),
    },
  };
}

export class ProgressLine {
  private timer: NodeJS.Timeout | undefined;
  private readonly started: number;
  private readonly clock: Clock;
  private readonly tty: boolean;

  constructor(label: string, sample: () => ProgressSample, clock: Clock) {
    this.clock = clock;
    this.started = clock.now();
    const json = jsonLinesMode();
    this.tty = !json && process.stderr.isTTY === true;
    if (!json && !this.tty) return;
    const rateOf = (s: ProgressSample) => s.bytesPerSec ?? s.bytes / Math.max(0.001, (this.clock.now() - this.started) / 1000);
    this.timer = setInterval(
      () => {
        const s = sample();
        if (json) return printJsonLine(progressEvent(s, rateOf(s)));
        const line = progressText(label, s, rateOf(s));
        process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns ?? 120) - 1)}`);
      },
      json ? JSON_PROGRESS_EVERY_MS : REFRESH_MS,
    );
    this.timer.unref();
  }

  stop(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.tty) process.stderr.write('\r\x1b[2K');
  }
}
