import cronstrue from 'cronstrue';
import { formatBytes, formatTime } from '../../protocol/format.js';

/** A cron schedule in words ("Every 15 minutes"), or '' when cronstrue cannot read it. */
export function scheduleWords(cron: string): string {
  try {
    return cronstrue.toString(cron, { use24HourTimeFormat: true, verbose: false });
  } catch {
    return '';
  }
}

/** Sizes as everywhere in Cairn (protocol/format.ts). */
export const bytes = formatBytes;

export function when(iso: string | null): string {
  if (!iso) return 'never';
  return formatTime(iso);
}

export function percent(part: number, whole: number): string {
  return whole <= 0 ? '0%' : `${Math.min(100, Math.round((part / whole) * 100))}%`;
}
