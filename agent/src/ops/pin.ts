// pin / unpin: a pinned snapshot is never removed by forget (snapshot/retention.ts).
import type { PinArgs, PinResult } from '../../../protocol/api.js';
import type { ClockDeps, RepoDeps } from './services.js';

export async function pinOp(svc: RepoDeps & ClockDeps, args: PinArgs): Promise<PinResult> {
  const { id } = await svc.repo.resolveSnapshot(args.snapshot);
  const { pinnedAt, already } = await svc.repo.pinSnapshot(id, new Date(svc.clock.now()));
  return { id, shortId: id.slice(0, 8), pinned: true, pinnedAt, unchanged: already };
}

export async function unpinOp(svc: RepoDeps, args: PinArgs): Promise<PinResult> {
  const { id } = await svc.repo.resolveSnapshot(args.snapshot);
  const was = await svc.repo.unpinSnapshot(id);
  return { id, shortId: id.slice(0, 8), pinned: false, pinnedAt: null, unchanged: !was };
}
