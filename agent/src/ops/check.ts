import { checkRepository } from '../repo/checker.js';
import type { CheckArgs, CheckResult } from '../../../protocol/api.js';
import type { Services } from './services.js';

export async function checkOp(svc: Services, args: CheckArgs, onPack?: (done: number, total: number) => void): Promise<CheckResult> {
  const heldBy = svc.mesh ? await svc.mesh.directory.packHolderNames() : undefined;
  const report = await checkRepository(svc.repo, { readData: args.readData, ...(onPack ? { onPack } : {}), ...(heldBy ? { heldBy } : {}) });
  return { ok: report.problems.every((p) => p.severity !== 'error'), ...report };
}
