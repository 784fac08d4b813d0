// `cairn tag [SNAPSHOT...] --add/--remove/--set TAGS` (restic's tag).
import type { TagArgs } from '../../../../protocol/api.js';
import { tagOp } from '../../ops/tag.js';
import { runOp, type Context } from '../context.js';
import { printJson } from '../format.js';
import { filterOf, type FilterCliOptions } from '../snapshot-filter.js';

export interface TagCliOptions extends FilterCliOptions {
  add?: string[];
  remove?: string[];
  set?: string[];
}

export async function tagCommand(ctx: Context, snapshots: string[], o: TagCliOptions): Promise<void> {
  const filter = filterOf(o);
  const args: TagArgs = {
    snapshots,
    ...(filter ? { filter } : {}),
    ...(o.add ? { add: o.add } : {}),
    ...(o.remove ? { remove: o.remove } : {}),
    ...(o.set ? { set: o.set } : {}),
  };
  const r = await runOp(ctx, 'tag', args, (svc) => tagOp(svc, args));
  if (ctx.json) return printJson(r);
  for (const c of r.changed)
    process.stdout.write(`snapshot ${c.from.slice(0, 8)} is now ${c.shortId}: tags ${c.tags.length > 0 ? c.tags.join(',') : '(none)'}\n`);
  const n = r.changed.length;
  process.stdout.write(
    `${n} snapshot${n === 1 ? '' : 's'} changed${r.unchanged > 0 ? `, ${r.unchanged} already had those tags` : ''}` +
      (n > 0 ? ' (a changed snapshot gets a new ID, as in restic)\n' : '\n'),
  );
}
