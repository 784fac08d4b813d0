// tag: changes snapshots' tags, as restic's tag does. A snapshot's ID is the blob ID of its JSON, so
// a changed snapshot is a new snapshot blob (with `original`, SPEC 7) that replaces the old record
// in one synced batch (Repository.replaceSnapshots); friends learn the new list from the next head.
import type { TagArgs, TagResult } from '../../../protocol/api.js';
import type { Snapshot } from '../../../protocol/snapshot.js';
import { matchesFilter } from '../repo/snapshot-filter.js';
import { UsageError } from '../util/errors.js';
import type { ListChangedDeps, RepoDeps } from './services.js';

/** Tags in an entry list: each entry may hold several, comma-separated (restic's `tag[,tag,...]`). */
function tagList(entries: string[] | undefined, flag: string): string[] | undefined {
  if (entries === undefined || entries.length === 0) return undefined;
  const tags = entries.flatMap((e) => e.split(',').map((t) => t.trim()));
  // `--set ""` clears the tags, as restic's does; an empty tag anywhere else is a mistake
  if (flag === 'set' && tags.every((t) => t === '')) return [];
  if (tags.some((t) => t === '')) throw new UsageError(`--${flag}: an empty tag (write tags as tag or tag1,tag2)`);
  return tags;
}

export async function tagOp(svc: RepoDeps & ListChangedDeps, args: TagArgs): Promise<TagResult> {
  const set = tagList(args.set, 'set');
  const add = tagList(args.add, 'add') ?? [];
  const remove = tagList(args.remove, 'remove') ?? [];
  if (set === undefined && add.length === 0 && remove.length === 0) throw new UsageError('say what to change: --add, --remove or --set');
  if (set !== undefined && (add.length > 0 || remove.length > 0)) throw new UsageError('--set replaces all tags: it does not go with --add or --remove');
  let targets: Array<{ id: string; snapshot: Snapshot }>;
  if (args.snapshots.length > 0) {
    // named snapshots; a filter then only narrows "latest" (as in restore)
    const found = new Map<string, Snapshot>();
    for (const ref of args.snapshots) {
      const s = await svc.repo.resolveSnapshot(ref, ref === 'latest' ? args.filter : undefined);
      found.set(s.id, s.snapshot);
    }
    targets = [...found].map(([id, snapshot]) => ({ id, snapshot }));
  } else {
    targets = (await svc.repo.listSnapshots()).filter((s) => matchesFilter(s.snapshot, args.filter));
  }
  const changes: Array<{ oldId: string; snapshot: Snapshot }> = [];
  for (const { id, snapshot } of targets) {
    const next = new Set(set ?? snapshot.tags);
    for (const t of add) next.add(t);
    for (const t of remove) next.delete(t);
    const tags = [...next].sort();
    if (JSON.stringify(tags) === JSON.stringify([...snapshot.tags].sort())) continue;
    // every other field as it was (unknown ones too, SPEC 7); `original` names the backup's own snapshot
    changes.push({ oldId: id, snapshot: { ...snapshot, tags, original: snapshot.original ?? id } });
  }
  const ids = await svc.repo.replaceSnapshots(changes);
  if (changes.length > 0) svc.afterBackup?.(); // the snapshot list changed: a new head goes to friends
  return {
    changed: changes.map((c, i) => {
      const id = ids[i] as string;
      return { from: c.oldId, id, shortId: id.slice(0, 8), tags: c.snapshot.tags };
    }),
    unchanged: targets.length - changes.length,
  };
}
