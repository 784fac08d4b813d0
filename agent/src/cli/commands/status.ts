// cairn status: what the console's dashboard shows, for a terminal: each source's state, last and
// next run and where its copies are, its 3-2-1 state and next step; friends online; space; alerts.
// Exit 1 when an alert is an error (a failed backup, a source "at risk" or "not off-site", a failed
// storage challenge or restore drill), so a cron job or monitor can act on it.
import { humanSeconds } from '../../../../protocol/api.js';
import { ROUTES, type StatusResult } from '../../../../protocol/console-api.js';
import { getRoute, findAgent } from '../agent-client.js';
import type { Context } from '../context.js';
import { formatBytes, formatTime, printJson, reachInWords, table } from '../format.js';
import { CairnError, UsageError } from '../../util/errors.js';

/** "3 h 5 min ago": how long ago, for people. */
export function ago(iso: string, now: number): string {
  return `${humanSeconds(Math.max(0, Math.round((now - Date.parse(iso)) / 1000)))} ago`;
}

const short = (iso: string | null) => (iso ? formatTime(iso, { seconds: false }) : '-');

export async function statusCommand(ctx: Context): Promise<void> {
  const agent = await findAgent(ctx.home);
  if (!agent)
    throw new UsageError(
      `no agent is running for ${ctx.home}: nothing runs on schedule and nothing replicates; start it with "cairn agent" (or npm start)`,
      'E_NO_AGENT',
    );
  const s = await getRoute<StatusResult>(agent, ROUTES.status.path);
  if (ctx.json) printJson(s);
  else {
    const out: string[] = [`${s.agent.name} (cairn ${s.agent.version}), ${s.friends.online} of ${s.friends.total} friends online`];
    if (s.reachability) out.push(`reachability: ${s.reachability.summary}`);
    for (const f of s.friends.reach) out.push(`friend ${f.name}: ${reachInWords(f)} (${f.reachWhy})`);
    if (s.sources.length === 0) out.push('no sources and no snapshots yet');
    else {
      const rows = [['Source', 'State', 'Last success', 'Next run', 'Snapshots', 'Copies of the latest']];
      for (const src of s.sources) {
        const copies = [src.copies.local ? 'local' : 'NOT local', ...src.copies.friends.map((f) => `${f.name} ${f.packs}/${f.of}`)].join(', ');
        rows.push([src.name, src.state, short(src.lastSuccess), short(src.nextRun), String(src.snapshots), copies]);
      }
      out.push(table(rows));
      // the 3-2-1 status of each source, in words, with the next step when it is not protected
      for (const src of s.sources) {
        const p = src.protection;
        if (!p) continue;
        const at = p.friends.filter((f) => f.packs > 0).map((f) => `${f.name} ${f.packs}/${f.of}`);
        const proved = p.lastProvedAt ? `last proved ${ago(p.lastProvedAt, ctx.clock.now())}` : 'never proved';
        out.push(
          `${src.name}: ${p.state.toUpperCase()}: ${p.local ? 'a local copy' : 'NO full local copy'}, ${p.copies} of ${p.wantedCopies} off-site copies (${at.join(', ') || 'no friend holds it'}), ${proved}`,
        );
        if (p.nextStep) out.push(`  next step: ${p.nextStep}`);
      }
    }
    const sp = s.space;
    out.push(
      `space: ${formatBytes(sp.localBytes)} here; friends hold ${formatBytes(sp.atFriendsBytes)} of ${formatBytes(sp.grantedByFriendsBytes)} they granted; we hold ${formatBytes(sp.forFriendsBytes)} of ${formatBytes(sp.grantedToFriendsBytes)} we granted`,
    );
    out.push(`port mapping: ${s.portMapping.message}`);
    const r = s.replication;
    out.push(`replication: ${r.packs - r.underReplicated} of ${r.packs} packs have ${r.wantedCopies} copies; last success ${short(r.lastSuccess)}`);
    for (const a of s.alerts) out.push(`${a.level}: ${a.message}`);
    process.stdout.write(out.join('\n') + '\n');
  }
  const errors = s.alerts.filter((a) => a.level === 'error');
  if (errors.length > 0) throw new CairnError('E_ALERTS', `${errors.length} alert${errors.length > 1 ? 's' : ''} need attention: ${errors[0]?.message ?? ''}`);
}
