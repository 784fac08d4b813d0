// forget: applies a retention policy and removes the snapshot records it does not keep. Data stays
// until prune; friends learn the shorter snapshot list from the next head (svc.afterBackup).
import type { ForgetArgs, ForgetResult } from '../../../protocol/api.js';
import { applyRetention, checkTimeZone, describePolicy, localTimeZone, validatePolicy, type RetentionSnapshot } from '../snapshot/retention.js';
import type { RetentionPolicy } from '../../../protocol/config.js';
import { UsageError } from '../util/errors.js';
import type { ClockDeps, ConfigDeps, ListChangedDeps, RepoDeps } from './services.js';

/** What the CLI needs to read a policy from its flags: -1 for "unlimited", and the time-zone check. */
export { checkTimeZone, UNLIMITED } from '../snapshot/retention.js';

export const POLICY_FLAGS = '--keep-last, --keep-hourly, --keep-daily, --keep-weekly, --keep-monthly, --keep-yearly, --keep-within, --keep-tag';

export async function forgetOp(svc: RepoDeps & ClockDeps & ConfigDeps & ListChangedDeps, args: ForgetArgs): Promise<ForgetResult> {
  // an explicit policy for every group, else each source's configured retention (ad-hoc groups and
  // sources without one keep everything)
  const sources = svc.config?.().sources ?? [];
  const configured = (name: string) => sources.find((s) => s.name === name)?.retention;
  let policyFor: RetentionPolicy | ((g: { source?: string }) => RetentionPolicy | undefined);
  if (args.policy !== undefined) {
    validatePolicy(args.policy);
    policyFor = args.policy;
  } else if (sources.some((s) => Object.keys(s.retention).length > 0)) {
    policyFor = (g) => (g.source !== undefined ? configured(g.source) : undefined);
  } else {
    throw new UsageError(`forget needs a policy: give at least one of ${POLICY_FLAGS} or set a retention for sources in cairn.yaml`, 'E_NO_POLICY');
  }
  const timeZone = checkTimeZone(args.timeZone ?? localTimeZone());
  const pins = await svc.repo.pins();
  const snapshots: RetentionSnapshot[] = [];
  for (const { id, snapshot: s } of await svc.repo.listSnapshots()) {
    if (args.source !== undefined && s.source !== args.source) continue;
    snapshots.push({ id, time: s.time, tags: s.tags, paths: s.paths, pinned: pins.has(id), ...(s.source !== undefined ? { source: s.source } : {}) });
  }
  const groups = applyRetention(snapshots, policyFor, { timeZone, nowMs: svc.clock.now() });
  const removedIds = groups.flatMap((g) => g.decisions.filter((d) => !d.keep).map((d) => d.snapshot.id));
  if (!args.dryRun && removedIds.length > 0) {
    await svc.repo.removeSnapshots(removedIds);
    svc.afterBackup?.(); // the snapshot list changed: a new head goes to friends
  }
  return {
    dryRun: args.dryRun,
    timeZone,
    groups: groups.map((g) => ({
      ...(g.source !== undefined ? { source: g.source } : {}),
      ...(g.paths !== undefined ? { paths: g.paths } : {}),
      policy: describePolicy(g.policy),
      snapshots: g.decisions.map(({ snapshot: s, keep, reasons }) => ({
        id: s.id,
        shortId: s.id.slice(0, 8),
        time: s.time,
        tags: s.tags,
        pinned: s.pinned,
        keep,
        reasons: reasons.map((r) => r.text),
      })),
    })),
    kept: snapshots.length - removedIds.length,
    removed: removedIds.length,
    removedIds,
  };
}
