// A one-line progress display on a TTY (files, bytes, MB/s, ETA); silent when stderr is not a TTY.
import type { Clock } from '../util/clock.js';
import { formatBytes, formatDuration } from './format.js';

const REFRESH_MS = 250;

export interface ProgressSample {
  files: number;
  bytes: number;
  totalBytes?: number;
  totalFiles?: number;
}

export class ProgressLine {
  private timer: NodeJS.Timeout | undefined;
  private readonly started: number;
  private readonly clock: Clock;

  constructor(label: string, sample: () => ProgressSample, clock: Clock) {
    this.clock = clock;
    this.started = clock.now();
    if (!process.stderr.isTTY) return;
    this.timer = setInterval(() => {
      const s = sample();
      const secs = Math.max(0.001, (this.clock.now() - this.started) / 1000);
      const rate = s.bytes / secs;
      let line = `${label}: ${s.files}${s.totalFiles ? `/${s.totalFiles}` : ''} files, ${formatBytes(s.bytes)}${s.totalBytes ? ` of ${formatBytes(s.totalBytes)}` : ''}, ${(rate / 1e6).toFixed(1)} MB/s`;
      if (s.totalBytes && rate > 0 && s.bytes <= s.totalBytes) line += `, ETA ${formatDuration(((s.totalBytes - s.bytes) / rate) * 1000)}`;
      process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns ?? 120) - 1)}`);
    }, REFRESH_MS);
    this.timer.unref();
  }

  stop(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
    process.stderr.write('\r\x1b[2K');
  }
}
