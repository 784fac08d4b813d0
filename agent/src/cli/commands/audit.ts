import { CairnError } from '../../util/errors.js';
import { agentOp, type Context } from '../context.js';
import { printJson, table } from '../format.js';

/** cairn audit: per friend, packs challenged, passed and failed (named); exit 1 when any failed. */
export async function auditCommand(ctx: Context, opts: { wait?: boolean; friend?: string }): Promise<void> {
  const args = { wait: opts.wait === true, ...(opts.friend !== undefined ? { friend: opts.friend } : {}) };
  const r = await agentOp(ctx, 'audit', args, 'a storage audit');
  const failed = r.friends.reduce((n, f) => n + f.failed.length, 0);
  if (ctx.json) printJson(r);
  else {
    if (r.friends.length === 0) process.stdout.write('no friends to challenge\n');
    else {
      const rows = [['Friend', 'Challenged', 'Passed', 'Failed', 'Not judged']];
      for (const f of r.friends)
        rows.push([
          f.name,
          f.unreachable !== null && f.challenged === 0 ? 'unreachable' : String(f.challenged),
          String(f.passed),
          String(f.failed.length),
          String(f.inconclusive),
        ]);
      process.stdout.write(table(rows) + '\n');
    }
    for (const f of r.friends) {
      for (const p of f.failed) process.stdout.write(`failed: ${f.name} pack ${p.packId}: ${p.reason}\n`);
      if (f.unreachable !== null) process.stdout.write(`unreachable: ${f.name}: ${f.unreachable}\n`);
    }
    const rep = r.replication;
    process.stdout.write(
      `replication: ${rep.pushed} packs pushed; ${rep.packs - rep.underReplicated} of ${rep.packs} packs have ${rep.wantedCopies} copies at friends\n`,
    );
  }
  if (failed > 0) {
    const names = [...new Set(r.friends.filter((f) => f.failed.length > 0).map((f) => f.name))].join(', ');
    throw new CairnError(
      'E_AUDIT_FAILED',
      `${failed} pack${failed > 1 ? 's' : ''} failed storage challenges at ${names}: those copies no longer count${args.wait && r.replication.underReplicated === 0 ? ' (copied again since)' : ' and are copied again'}`,
    );
  }
}
