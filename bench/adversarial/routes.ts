// Route and auth fuzzing: a real agent API (real repository, real console auth, a real listener)
// takes `requests` mutated requests without valid credentials (no credentials, a wrong token, a
// forged session cookie), each a random stack of mutations of a protected route's path, sent as
// raw HTTP. Counted: answers by status, and every answer that is 2xx/3xx or got past the auth
// check (anything but 401, 404, and the parser's own 400 for an undecodable target).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsoleAuth } from '../../agent/src/api/auth.js';
import { buildApi } from '../../agent/src/api/server.js';
import { Activity } from '../../agent/src/ops/activity.js';
import { createStores } from '../../agent/src/compose-root.js';
import { systemClock } from '../../agent/src/util/clock.js';
import { prng } from './prng.js';
import { concretePath, mutate, sendRaw, type RawAnswer } from './route-spellings.js';

export interface RouteCampaignResult {
  requests: number;
  routes: number;
  seed: number;
  byStatus: Record<string, number>;
  /** Requests answered 2xx/3xx or past the auth check (must be empty). */
  leaks: string[];
  seconds: number;
}

/** Whether a request without valid credentials was refused before any handler (see route-auth.test.ts). */
export function refusedBeforeHandler(method: string, a: RawAnswer): boolean {
  if (a.status === 401) return method === 'HEAD' || a.body.includes('"E_AUTH"');
  if (a.status === 404) return true;
  // Node's HTTP parser refusing the request target (fastify's clientError answer), or the router
  // refusing to decode it: both before any route
  if (a.status === 400)
    return a.body.includes('"message":"Client Error"') || /is not a valid url component/.test(a.body) || (method === 'HEAD' && a.body === '');
  return false;
}

const CREDENTIALS: Array<Record<string, string>> = [
  {},
  { 'x-cairn-token': 'cairn_wrongwrongwrongwrongwrongwrongwr' },
  { authorization: 'Bearer ' },
  { cookie: 'cairn_session=forged-session-id' },
  { authorization: 'Basic YWRtaW46YWRtaW4=' },
];

export async function runRouteCampaign(opts: { requests: number; seed: number; concurrency?: number }): Promise<RouteCampaignResult> {
  const started = performance.now();
  const base = await mkdtemp(join(tmpdir(), 'cairn-route-fuzz-'));
  const home = join(base, 'home');
  const consoleDir = join(base, 'console');
  await mkdir(consoleDir);
  await writeFile(join(consoleDir, 'index.html'), '<!doctype html><title>console</title>');
  const { stores } = await createStores(home, 'route fuzz passphrase', new Date());
  const { repo, ledgers } = stores;
  const auth = await ConsoleAuth.open(home, systemClock, 'agent-token-route-fuzz-0123456789', () => undefined);
  const app = buildApi(
    { home, repo, ledgers, clock: systemClock, activity: new Activity(systemClock), agentName: 'fuzz' },
    { host: '127.0.0.1', port: 0, auth, consoleDir },
    () => 'peer',
  );
  try {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    const host = `127.0.0.1:${port}`;
    const targets = app.cairnRoutes
      .filter((r) => r.config?.auth !== 'none')
      .flatMap((r) => (Array.isArray(r.method) ? r.method : [r.method]).map((m) => ({ method: String(m), path: concretePath(r.url) })));
    const rand = prng(opts.seed);
    const byStatus: Record<string, number> = {};
    const leaks: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < opts.requests) {
        next += 1;
        const t = targets[Math.floor(rand() * targets.length)] as { method: string; path: string };
        const method = rand() < 0.1 ? (['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'][Math.floor(rand() * 7)] as string) : t.method;
        const target = mutate(t.path, rand);
        const headers = CREDENTIALS[Math.floor(rand() * CREDENTIALS.length)] as Record<string, string>;
        const a = await sendRaw(port, method, target, host, headers);
        byStatus[a.status] = (byStatus[a.status] ?? 0) + 1;
        if (!refusedBeforeHandler(method, a)) {
          if (leaks.length < 100) leaks.push(`${method} ${target} ${JSON.stringify(headers)} -> ${a.status} ${a.body.slice(0, 100)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency ?? 16 }, worker));
    return { requests: opts.requests, routes: targets.length, seed: opts.seed, byStatus, leaks, seconds: (performance.now() - started) / 1000 };
  } finally {
    await app.close();
    await stores.close();
    await rm(base, { recursive: true, force: true });
  }
}
