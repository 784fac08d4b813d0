import { checkRepository } from '../repo/checker.js';
import type { CheckArgs, CheckResult } from '../../../protocol/api.js';
import { UsageError } from '../util/errors.js';
import type { MaybeMeshDeps, RepoDeps } from './services.js';

export async function checkOp(svc: RepoDeps & MaybeMeshDeps, args: CheckArgs, onPack?: (done: number, total: number) => void): Promise<CheckResult> {
  const subset = args.readDataSubset !== undefined ? parseDataSubset(args.readDataSubset) : undefined;
  const heldBy = svc.mesh ? await svc.mesh.directory.packHolderNames() : undefined;
  const report = await checkRepository(svc.repo, {
    readData: args.readData || subset !== undefined,
    ...subset,
    ...(onPack ? { onPack } : {}),
    ...(heldBy ? { heldBy } : {}),
  });
  return { ok: report.problems.every((p) => p.severity !== 'error'), ...report };
}

/**
 * `--read-data-subset`, as restic spells it: "N%" reads a random N percent of the packs (at least one
 * when there are any; N in (0, 100], decimals allowed), "n/t" the n-th of t groups fixed by pack ID
 * (the first 32 bits of the ID modulo t), so t runs with n = 1..t read every pack exactly once.
 */
export function parseDataSubset(text: string): { readPack?: (packId: string) => boolean; readCount?: (selected: number) => number } {
  const pct = /^(\d{1,3}(?:\.\d+)?)%$/.exec(text.trim());
  if (pct) {
    const p = Number(pct[1]);
    if (!(p > 0 && p <= 100)) throw new UsageError(`--read-data-subset ${text}: the percentage must be above 0 and at most 100`);
    return { readCount: (n) => (n === 0 ? 0 : Math.max(1, Math.ceil((n * p) / 100))) };
  }
  const part = /^(\d{1,6})\/(\d{1,6})$/.exec(text.trim());
  if (part) {
    const n = Number(part[1]);
    const t = Number(part[2]);
    if (!(t >= 1 && n >= 1 && n <= t)) throw new UsageError(`--read-data-subset ${text}: expected n/t with 1 <= n <= t, e.g. 1/5`);
    return { readPack: (id) => parseInt(id.slice(0, 8), 16) % t === n - 1 };
  }
  throw new UsageError(`--read-data-subset ${text}: expected a share such as 10% or a group such as 1/5`);
}
