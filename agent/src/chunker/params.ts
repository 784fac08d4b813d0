// Chunker parameters are recorded in the repository config by name, e.g. `fastcdc-512k-1m-8m`
// (minimum, average, maximum chunk size), so every writer of a repository cuts the same way.
import { UsageError } from '../util/errors.js';

export interface ChunkerParams {
  name: string;
  minBytes: number;
  avgBytes: number;
  maxBytes: number;
}

export const DEFAULT_CHUNKER = 'fastcdc-512k-1m-8m';

const UNITS: Record<string, number> = { k: 1024, m: 1024 * 1024 };

function parseSize(s: string): number {
  const m = /^(\d+)([km])$/.exec(s);
  if (!m) throw new UsageError(`bad chunk size "${s}" in chunker name (expected e.g. 512k or 8m)`);
  return Number(m[1]) * (UNITS[m[2] as string] as number);
}

export function parseChunkerName(name: string): ChunkerParams {
  const parts = name.split('-');
  if (parts.length !== 4 || parts[0] !== 'fastcdc') throw new UsageError(`unknown chunker "${name}" (expected fastcdc-MIN-AVG-MAX)`);
  const [minBytes, avgBytes, maxBytes] = parts.slice(1).map(parseSize) as [number, number, number];
  const isPow2 = (n: number) => (n & (n - 1)) === 0;
  if (!(minBytes < avgBytes && avgBytes < maxBytes) || !isPow2(avgBytes) || avgBytes < 256) {
    throw new UsageError(`chunker "${name}": need MIN < AVG < MAX and AVG a power of two >= 256`);
  }
  return { name, minBytes, avgBytes, maxBytes };
}
