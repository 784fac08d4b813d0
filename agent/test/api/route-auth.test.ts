// Authentication is decided by the route the router matched, deny by default. Against a real
// listening agent API (real repository, real console auth, raw HTTP so no client normalises the
// URL): every registered route is walked; each protected one is requested without credentials in
// every spelling of route-spellings.ts with each of its methods, and nothing answers 2xx or 3xx or
// gets past the auth check. Only /health, login and the console's files are public, and a route
// registered without an auth decision stops the server from starting. Read-scoped API tokens reach
// /metrics and the status summary only.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { API_PREFIX, API_TOKEN_HEADER } from '../../../protocol/api.js';
import { ROUTES } from '../../../protocol/console-api.js';
import { ConsoleAuth } from '../../src/api/auth.js';
import { buildApi } from '../../src/api/server.js';
import { Activity } from '../../src/ops/activity.js';
import type { Services } from '../../src/ops/services.js';
import type { Stores } from '../../src/compose-root.js';
import { initStores } from '../helpers/stores.js';
import { systemClock } from '../../src/util/clock.js';
import { concretePath, sendRaw, spellings } from '../../../bench/adversarial/route-spellings.js';
import { refusedBeforeHandler, runRouteCampaign } from '../../../bench/adversarial/routes.js';

const AGENT_TOKEN = 'agent-token-for-the-cli-0123456789';

/** The public routes, decided here and nowhere else: a new public route must be added on purpose. */
const PUBLIC = new Set([`GET ${ROUTES.health.path}`, `HEAD ${ROUTES.health.path}`, `POST ${ROUTES.login.path}`, 'GET /*', 'HEAD /*']);

async function startApi(): Promise<{ app: FastifyInstance; stores: Stores; port: number; host: string; auth: ConsoleAuth }> {
  const base = await mkdtemp(join(tmpdir(), 'cairn-route-auth-'));
  const home = join(base, 'home');
  const consoleDir = join(base, 'console');
  await mkdir(consoleDir);
  await writeFile(join(consoleDir, 'index.html'), '<!doctype html><title>console</title>');
  await writeFile(join(consoleDir, 'app.js'), 'export {};');
  const stores = await initStores(home, 'route auth test passphrase', new Date());
  const { repo, ledgers } = stores;
  const auth = await ConsoleAuth.open(home, systemClock, AGENT_TOKEN, () => undefined);
  const svc: Services = { home, repo, ledgers, clock: systemClock, activity: new Activity(systemClock), agentName: 'test' };
  const app = buildApi(svc, { host: '127.0.0.1', port: 0, auth, consoleDir }, () => 'peer');
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { app, stores, port, host: `127.0.0.1:${port}`, auth };
}

describe('API authentication by matched route', () => {
  let api: Awaited<ReturnType<typeof startApi>>;
  beforeAll(async () => {
    api = await startApi();
  });
  afterAll(async () => {
    await api?.app.close();
    await api?.stores.close();
  });

  const routeList = () =>
    api.app.cairnRoutes.flatMap((r) => (Array.isArray(r.method) ? r.method : [r.method]).map((m) => ({ method: String(m), url: r.url, auth: r.config?.auth })));

  test('every route declares an auth decision, and the public ones are exactly /health, login and the console files', () => {
    const list = routeList();
    expect(list.length).toBeGreaterThan(30);
    for (const r of list) expect(['none', 'read', 'admin'], `${r.method} ${r.url}`).toContain(r.auth);
    const open = list.filter((r) => r.auth === 'none').map((r) => `${r.method} ${r.url}`);
    expect(new Set(open)).toEqual(PUBLIC);
  });

  test('a route added without an auth decision stops the server from starting', async () => {
    const extra = await startApi();
    try {
      const app = buildApi(
        { home: '/nonexistent', repo: extra.stores.repo, clock: systemClock } as Services,
        { host: '127.0.0.1', port: 0, auth: extra.auth },
        () => 'peer',
      );
      app.get(`${API_PREFIX}/forgotten`, async () => ({ secret: true }));
      await expect(app.ready()).rejects.toThrow(/GET \/api\/v1\/forgotten declares no auth/);
    } finally {
      await extra.app.close();
      await extra.stores.close();
    }
  });

  test('every spelling of every protected route, without credentials: never 2xx/3xx, never past the auth check', async () => {
    const protectedRoutes = routeList().filter((r) => r.auth !== 'none');
    expect(protectedRoutes.map((r) => r.url)).toEqual(
      expect.arrayContaining([
        `${API_PREFIX}/ops/backup`,
        `${API_PREFIX}/export`,
        `${API_PREFIX}/dump`,
        `${API_PREFIX}/ops/browse`,
        ROUTES.tokenCreate.path,
        ROUTES.metrics.path,
      ]),
    );
    const leaks: string[] = [];
    let sent = 0;
    for (const r of protectedRoutes) {
      const targets = spellings(concretePath(r.url));
      for (let i = 0; i < targets.length; i += 16) {
        const batch = targets.slice(i, i + 16);
        const answers = await Promise.all(batch.map((t) => sendRaw(api.port, r.method, t, api.host)));
        sent += batch.length;
        answers.forEach((a, j) => {
          if (!refusedBeforeHandler(r.method, a)) leaks.push(`${r.method} ${batch[j]} -> ${a.status} ${a.body.slice(0, 120)}`);
        });
      }
      // the absolute form of the request target, too
      const abs = await sendRaw(api.port, r.method, `http://${api.host}${concretePath(r.url)}`, api.host);
      if (!refusedBeforeHandler(r.method, abs)) leaks.push(`${r.method} absolute-form -> ${abs.status} ${abs.body.slice(0, 120)}`);
    }
    expect(sent).toBeGreaterThan(3000);
    expect(leaks, leaks.slice(0, 20).join('\n')).toEqual([]);
  });

  test('the exploits of the first build are refused: /%61pi/v1/ops/backup and /%61pi/v1/export', async () => {
    const backup = await sendRaw(api.port, 'POST', '/%61pi/v1/ops/backup', api.host);
    expect(backup.status).toBe(401);
    const exp = await sendRaw(api.port, 'GET', '/%61pi/v1/export?snapshot=latest', api.host);
    expect(exp.status).toBe(401);
    const token = await sendRaw(api.port, 'POST', '/api/v1/auth/%74okens', api.host);
    expect(token.status).toBe(401);
  });

  test('the fuzzing campaign, short: 3,000 random stacked mutations without valid credentials, none let through', async () => {
    const r = await runRouteCampaign({ requests: 3000, seed: 16 });
    expect(r.routes).toBeGreaterThan(30);
    expect(r.byStatus['401'] ?? 0).toBeGreaterThan(100);
    expect(r.leaks, r.leaks.join('\n')).toEqual([]);
  });

  test('the public routes answer without credentials', async () => {
    expect((await sendRaw(api.port, 'GET', '/health', api.host)).status).toBe(200);
    expect((await sendRaw(api.port, 'GET', '/', api.host)).status).toBe(200);
    expect((await sendRaw(api.port, 'GET', '/app.js', api.host)).status).toBe(200);
  });

  test('a read-scoped token reaches /metrics and the status summary, nothing else', async () => {
    const { token, scope } = await api.auth.createToken('prometheus', 'read');
    expect(scope).toBe('read');
    expect(api.auth.listTokens().find((t) => t.name === 'prometheus')?.scope).toBe('read');
    const inject = (method: 'GET' | 'POST', url: string) =>
      api.app.inject({
        method,
        url,
        headers: { host: api.host, [API_TOKEN_HEADER]: token, ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) },
        ...(method === 'POST' ? { payload: '{}' } : {}),
      });
    expect((await inject('GET', ROUTES.metrics.path)).statusCode).toBe(200);
    expect((await inject('GET', ROUTES.status.path)).statusCode).toBe(200);
    for (const [method, url] of [
      ['POST', `${API_PREFIX}/ops/backup`],
      ['POST', `${API_PREFIX}/ops/snapshots`],
      ['GET', `${API_PREFIX}/export?snapshot=latest`],
      ['POST', ROUTES.tokenCreate.path],
      ['GET', ROUTES.tokenList.path],
      ['POST', `/%61pi/v1/ops/backup`],
    ] as const) {
      const res = await inject(method, url);
      expect(res.statusCode, `${method} ${url}: ${res.body}`).toBe(403);
      expect(res.json()).toMatchObject({ code: 'E_SCOPE' });
    }
    // an admin token made the same way reaches everything
    const admin = await api.auth.createToken('script');
    expect(admin.scope).toBe('admin');
    const res = await api.app.inject({
      method: 'POST',
      url: `${API_PREFIX}/ops/snapshots`,
      headers: { host: api.host, [API_TOKEN_HEADER]: admin.token, 'content-type': 'application/json' },
      payload: '{}',
    });
    expect(res.statusCode, res.body).toBe(200);
  });
});
