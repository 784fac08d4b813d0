import { exportOp } from '../../ops/export.js';
import { UsageError } from '../../util/errors.js';
import { withServices, type Context } from '../context.js';

export async function exportCommand(ctx: Context, snapshot: string, path: string | undefined): Promise<void> {
  if (process.stdout.isTTY) throw new UsageError('export writes a tar stream: redirect stdout to a file or a pipe (e.g. cairn export latest | tar -x)');
  await withServices(ctx, (svc) => exportOp(svc, { snapshot, ...(path ? { path } : {}) }, process.stdout));
}
