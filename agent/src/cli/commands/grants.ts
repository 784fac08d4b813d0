// cairn grant FRIEND SIZE | --refuse, cairn ask FRIEND SIZE [--note TEXT] (SPEC 13.10).
import type { AskArgs, GrantArgs } from '../../../../protocol/api.js';
import { formatBytes } from '../../../../protocol/format.js';
import { parseSize } from '../../util/units.js';
import { agentOp, type Context } from '../context.js';
import { printJson } from '../format.js';

const later = (delivered: boolean, name: string) => (delivered ? `${name} was told` : `${name} is told when next reached`);

export async function grantCommand(ctx: Context, friend: string, size: string | undefined, opts: { refuse?: boolean }): Promise<void> {
  const args: GrantArgs = { friend, ...(size !== undefined ? { bytes: parseSize(size, 'SIZE') } : {}), ...(opts.refuse ? { refuse: true } : {}) };
  const r = await agentOp(ctx, 'grant', args, 'changing a grant');
  if (ctx.json) return printJson(r);
  if (r.refusedBytes !== null) process.stdout.write(`refused ${r.name}'s request for ${formatBytes(r.refusedBytes)} (${later(r.delivered, r.name)})\n`);
  else process.stdout.write(`${r.name} may now store ${formatBytes(r.grantToPeer)} here (${later(r.delivered, r.name)})\n`);
}

export async function askCommand(ctx: Context, friend: string, size: string, opts: { note?: string }): Promise<void> {
  const args: AskArgs = { friend, bytes: parseSize(size, 'SIZE'), ...(opts.note !== undefined ? { note: opts.note } : {}) };
  const r = await agentOp(ctx, 'ask', args, 'asking for space');
  if (ctx.json) return printJson(r);
  process.stdout.write(
    `asked ${r.name} for ${formatBytes(r.askedBytes)} (it grants ${formatBytes(r.grantFromPeer)} now; ${r.delivered ? 'the request is on its dashboard' : 'sent when next reached'})\n`,
  );
}
