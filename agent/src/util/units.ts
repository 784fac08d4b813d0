// Sizes ("500M", "20G", "1.5T", "1048576") and durations ("30s", "24h", "7d"), on the command line
// and in cairn.yaml. The `*OrNull` forms return null for text that is not a size/duration.
import { UsageError } from './errors.js';

const SIZE_UNITS: Record<string, number> = { '': 1, B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };
const DURATION_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

export const SIZE_EXAMPLES = '500M, 20G, 1T';
export const DURATION_EXAMPLES = '30s, 30m, 24h, 7d';

export function sizeOrNull(s: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*([BKMGT]?)(?:i?B)?$/i.exec(s.trim());
  if (!m) return null;
  const bytes = Math.floor(Number(m[1]) * (SIZE_UNITS[(m[2] ?? '').toUpperCase()] as number));
  return Number.isSafeInteger(bytes) ? bytes : null;
}

export function durationOrNull(s: string): number | null {
  const m = /^(\d+)\s*([smhdw])$/.exec(s.trim());
  return m ? Number(m[1]) * (DURATION_UNITS[m[2] as string] as number) : null;
}

export function parseSize(s: string, what: string): number {
  const bytes = sizeOrNull(s);
  if (bytes === null) throw new UsageError(`${what}: "${s}" is not a size (examples: ${SIZE_EXAMPLES})`);
  return bytes;
}

export function parseDuration(s: string, what: string): number {
  const ms = durationOrNull(s);
  if (ms === null) throw new UsageError(`${what}: "${s}" is not a duration (examples: ${DURATION_EXAMPLES})`);
  return ms;
}
