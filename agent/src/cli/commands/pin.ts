import type { PinResult } from '../../../../protocol/api.js';
import { pinOp, unpinOp } from '../../ops/pin.js';
import { runOp, type Context } from '../context.js';
import { printJson } from '../format.js';

export async function pinCommand(ctx: Context, snapshot: string, unpin: boolean): Promise<void> {
  const args = { snapshot };
  const r: PinResult = await runOp(ctx, unpin ? 'unpin' : 'pin', args, (svc) => (unpin ? unpinOp(svc, args) : pinOp(svc, args)));
  if (ctx.json) return printJson(r);
  if (unpin) process.stdout.write(r.unchanged ? `snapshot ${r.shortId} was not pinned\n` : `snapshot ${r.shortId} unpinned: forget may remove it again\n`);
  else
    process.stdout.write(
      r.unchanged ? `snapshot ${r.shortId} was already pinned (since ${r.pinnedAt})\n` : `snapshot ${r.shortId} pinned: forget never removes it\n`,
    );
}
