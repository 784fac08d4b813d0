// The keep-within duration of a retention policy, as written in cairn.yaml and on the command line.
// Here, below both config/ (which validates cairn.yaml) and snapshot/retention.ts (which applies it).
import { UsageError } from './errors.js';

const WITHIN_UNITS: Record<string, number> = { w: 7 * 86_400_000, d: 86_400_000, h: 3_600_000 };

/** keep-within durations: "2d", "36h", "1w", "1d12h". Days are 24 hours; months and years are refused (no fixed length). */
export function parseKeepWithin(s: string): number {
  const text = s.trim();
  if (/^\d+\s*(y|m|mo)$/i.test(text) || /\d+(y|m)/.test(text))
    throw new UsageError(
      `keep-within: "${s}": m (months in restic) and y are not accepted, they have no fixed length; give hours, days or weeks (e.g. 36h, 30d, 52w)`,
      'E_BAD_POLICY',
    );
  if (!/^(\d+[wdh])+$/.test(text)) throw new UsageError(`keep-within: "${s}" is not a duration (examples: 36h, 7d, 2w, 1d12h)`, 'E_BAD_POLICY');
  let ms = 0;
  for (const m of text.matchAll(/(\d+)([wdh])/g)) ms += Number(m[1]) * (WITHIN_UNITS[m[2] as string] as number);
  if (!Number.isSafeInteger(ms) || ms === 0) throw new UsageError(`keep-within: "${s}" must be longer than zero`, 'E_BAD_POLICY');
  return ms;
}
