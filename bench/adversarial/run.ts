// `npm run adversarial`: the long adversarial campaigns (SECURITY.md says what each does). Each
// campaign's last result replaces its block in SECURITY.md (between `<!-- campaign:NAME -->` and
// `<!-- /campaign:NAME -->`); the command exits 1 when any campaign found a problem.
//
// Environment:
//   CAIRN_ADV_ONLY        comma-separated campaigns to run (default: all): routes
//   CAIRN_ADV_REQUESTS    requests of the routes campaign (default 100000)
//   CAIRN_ADV_SEED        seed of the random mutations (default: the time)
//   CAIRN_ADV_REPORT      the file to update (default SECURITY.md)
import { readFile, writeFile } from 'node:fs/promises';
import { runRouteCampaign, type RouteCampaignResult } from './routes.js';

function renderRoutes(r: RouteCampaignResult, when: string): string {
  const statuses = Object.entries(r.byStatus)
    .sort((a, b) => b[1] - a[1])
    .map(([s, n]) => `${s}: ${n}`)
    .join(', ');
  return [
    `Last run ${when}: ${r.requests.toLocaleString('en')} requests over ${r.routes} protected route/method pairs, seed ${r.seed}, ${r.seconds.toFixed(1)} s.`,
    `Answers by status: ${statuses}. **Let through: ${r.leaks.length}.**`,
    ...r.leaks.slice(0, 10).map((l) => `- ${l}`),
  ].join('\n');
}

async function replaceBlock(path: string, name: string, text: string): Promise<void> {
  const doc = await readFile(path, 'utf8');
  const open = `<!-- campaign:${name} -->`;
  const close = `<!-- /campaign:${name} -->`;
  const a = doc.indexOf(open);
  const b = doc.indexOf(close);
  if (a < 0 || b < a) throw new Error(`${path} has no ${open} ... ${close} block`);
  await writeFile(path, `${doc.slice(0, a + open.length)}\n${text}\n${doc.slice(b)}`);
}

const only = (process.env.CAIRN_ADV_ONLY ?? 'routes').split(',').map((s) => s.trim());
const report = process.env.CAIRN_ADV_REPORT ?? 'SECURITY.md';
const when = new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
let failed = false;

if (only.includes('routes')) {
  const requests = Number(process.env.CAIRN_ADV_REQUESTS ?? 100_000);
  const seed = Number(process.env.CAIRN_ADV_SEED ?? Math.floor(Math.random() * 2 ** 31));
  process.stderr.write(`routes: ${requests} mutated requests without valid credentials (seed ${seed})\n`);
  const r = await runRouteCampaign({ requests, seed });
  process.stdout.write(`${JSON.stringify({ campaign: 'routes', ...r })}\n`);
  await replaceBlock(report, 'routes', renderRoutes(r, when));
  if (r.leaks.length > 0) failed = true;
}

process.exit(failed ? 1 : 0);
