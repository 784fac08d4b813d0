// Sizes ("500M", "20G", "1.5T", "1048576") and durations ("30m", "24h", "7d") on the command line.
import { UsageError } from '../util/errors.js';

const SIZE_UNITS: Record<string, number> = { '': 1, B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };
const DURATION_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseSize(s: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([BKMGT]?)(?:i?B)?$/i.exec(s.trim());
  if (!m) throw new UsageError(`${what}: "${s}" is not a size (examples: 500M, 20G, 1T)`);
  const bytes = Math.floor(Number(m[1]) * (SIZE_UNITS[(m[2] ?? '').toUpperCase()] as number));
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`${what}: "${s}" is too large`);
  return bytes;
}

export function parseDuration(s: string, what: string): number {
  const m = /^(\d+)\s*([smhd])$/.exec(s.trim());
  if (!m) throw new UsageError(`${what}: "${s}" is not a duration (examples: 30m, 24h, 7d)`);
  return Number(m[1]) * (DURATION_UNITS[m[2] as string] as number);
}
