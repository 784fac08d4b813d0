import { diffTrees, type Change } from '../../snapshot/diff.js';
import type { Context } from '../context.js';
import { withRepo } from '../context.js';
import { printJson } from '../format.js';

export async function diffCommand(ctx: Context, a: string, b: string): Promise<void> {
  await withRepo(ctx, async (repo) => {
    const left = await repo.resolveSnapshot(a);
    const right = await repo.resolveSnapshot(b);
    const changes: Change[] = [];
    for await (const c of diffTrees(repo, left.snapshot.tree, right.snapshot.tree)) {
      if (ctx.json) changes.push(c);
      else process.stdout.write(`${c.kind} ${c.path}${c.type === 'dir' ? '/' : ''}\n`);
    }
    if (ctx.json) printJson({ from: left.id, to: right.id, changes });
  });
}
