import { dumpPlan, exportPlan } from '../../ops/export.js';
import { findAgent, streamExport } from '../agent-client.js';
import { UsageError } from '../../util/errors.js';
import { withServices, type Context } from '../context.js';

export async function exportCommand(ctx: Context, snapshot: string, path: string | undefined): Promise<void> {
  if (process.stdout.isTTY) throw new UsageError('export writes a tar stream: redirect stdout to a file or a pipe (e.g. cairn export latest | tar -x)');
  const args = { snapshot, ...(path ? { path } : {}) };
  const agent = await findAgent(ctx.home);
  if (agent) return streamExport(agent, args, process.stdout);
  await withServices(ctx, async (svc) => (await exportPlan(svc, args))(process.stdout), { mesh: true });
}

/** `cairn dump SNAPSHOT PATH`: one file's bytes to stdout (a folder as a tar stream), through the agent when it runs. */
export async function dumpCommand(ctx: Context, snapshot: string, path: string): Promise<void> {
  const args = { snapshot, path };
  const agent = await findAgent(ctx.home);
  if (agent) return streamExport(agent, args, process.stdout, 'dump');
  await withServices(ctx, async (svc) => (await dumpPlan(svc, args)).write(process.stdout), { mesh: true });
}
