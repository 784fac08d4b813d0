import { formatBytes, formatTime, scheduleInWords } from '../../protocol/format.js';

export { reachInWords } from '../../protocol/format.js';

/** A cron schedule in words, or '' (protocol/format.ts). */
export const scheduleWords = (cron: string): string => scheduleInWords(cron) ?? '';

/** Sizes as everywhere in Cairn (protocol/format.ts). */
export const bytes = formatBytes;

export function when(iso: string | null): string {
  if (!iso) return 'never';
  return formatTime(iso);
}

export function percent(part: number, whole: number): string {
  return whole <= 0 ? '0%' : `${Math.min(100, Math.round((part / whole) * 100))}%`;
}
