// Every HTTP route, through fastify's app.inject() on a real repository (real LevelDB) and the real
// console auth: unauthenticated calls are refused, a session's change without the CSRF token is
// refused, a foreign Host is refused, a wrong content type is refused; and the happy paths work:
// login with the first-start password, session + CSRF, API tokens, the CLI's agent token.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { API_PREFIX, API_TOKEN_HEADER } from '../../../protocol/api.js';
import { CSRF_HEADER, ROUTES, SESSION_COOKIE } from '../../../protocol/console-api.js';
import { ConsoleAuth } from '../../src/api/auth.js';
import { OPS } from '../../src/api/ops-routes.js';
import { buildApi } from '../../src/api/server.js';
import { Activity } from '../../src/ops/activity.js';
import type { Services } from '../../src/ops/services.js';
import type { Stores } from '../../src/compose-root.js';
import type { Repository } from '../../src/repo/repository.js';
import { initStores } from '../helpers/stores.js';
import { systemClock } from '../../src/util/clock.js';

const AGENT_TOKEN = 'agent-token-for-the-cli-0123456789';

interface Route {
  name: string;
  method: 'GET' | 'POST';
  path: string;
  open: boolean;
}

/** Every route the agent serves: the console routes of protocol/console-api.ts and every op. */
const routes: Route[] = [
  ...Object.entries(ROUTES).map(([name, r]) => ({ name, method: r.method as 'GET' | 'POST', path: r.path, open: r.auth === 'none' })),
  ...Object.keys(OPS).map((name) => ({ name: `ops/${name}`, method: 'POST' as const, path: `${API_PREFIX}/ops/${name}`, open: false })),
  { name: 'export', method: 'GET', path: `${API_PREFIX}/export?snapshot=latest`, open: false },
];

describe('HTTP API: every route', () => {
  let app: FastifyInstance;
  let host: string;
  let repo: Repository;
  let stores: Stores | undefined;
  let password = '';
  beforeAll(async () => {
    const home = join(await mkdtemp(join(tmpdir(), 'cairn-api-')), 'home');
    stores = await initStores(home, 'api test passphrase', new Date());
    repo = stores.repo;
    const auth = await ConsoleAuth.open(home, systemClock, AGENT_TOKEN, (line) => {
      password = /admin password is (\S+)/.exec(line)?.[1] ?? password;
    });
    const svc: Services = { home, repo, ledgers: stores.ledgers, clock: systemClock, activity: new Activity(systemClock), agentName: 'test' };
    app = buildApi(svc, { host: '127.0.0.1', port: 0, auth }, () => 'peer');
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    host = `127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  });
  afterAll(async () => {
    await app?.close();
    await stores?.close();
  });

  const call = (r: Route, headers: Record<string, string>, body?: string) =>
    app.inject({ method: r.method, url: r.path, headers: { host, ...headers }, ...(r.method === 'POST' ? { payload: body ?? '{}' } : {}) });
  const json = { 'content-type': 'application/json' };

  test('the first start printed a password, and only its Argon2id hash is kept', () => {
    expect(password).toMatch(/^[a-z2-9]{5}(-[a-z2-9]{5}){3}$/);
  });

  for (const r of routes.filter((x) => !x.open)) {
    test(`${r.method} ${r.name}: without a token or session -> 401`, async () => {
      const res = await call(r, r.method === 'POST' ? json : {});
      expect(res.statusCode, res.body).toBe(401);
      expect(res.json()).toMatchObject({ code: 'E_AUTH' });
    });
  }

  for (const r of routes) {
    test(`${r.method} ${r.name}: a foreign Host -> 421`, async () => {
      const res = await app.inject({
        method: r.method,
        url: r.path,
        headers: { host: 'evil.example:80', [API_TOKEN_HEADER]: AGENT_TOKEN, ...(r.method === 'POST' ? json : {}) },
        ...(r.method === 'POST' ? { payload: '{}' } : {}),
      });
      expect(res.statusCode).toBe(421);
      expect(res.json()).toMatchObject({ code: 'E_HOST' });
    });
  }

  test('the Host check is by name: a published or proxied port is fine, a foreign name never is', async () => {
    const status = async (host: string) => (await app.inject({ method: 'GET', url: ROUTES.health.path, headers: { host } })).statusCode;
    for (const ok of ['localhost:18080', '127.0.0.1:8080', 'localhost', '[::1]:9000', 'LOCALHOST:1']) expect(await status(ok), ok).toBe(200);
    for (const bad of ['evil.example', 'evil.example:8080', '127.0.0.1.evil.example:8080', 'localhost.evil.example', 'localhost:notaport', 'localhost:8080:1'])
      expect(await status(bad), bad).toBe(421);
  });

  for (const r of routes.filter((x) => x.method === 'POST')) {
    test(`POST ${r.name}: a body that is not application/json -> 415`, async () => {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
        const res = await call(r, { 'content-type': type, [API_TOKEN_HEADER]: AGENT_TOKEN }, 'password=x');
        expect(res.statusCode, `${type}: ${res.body}`).toBe(415);
      }
      const none = await app.inject({ method: 'POST', url: r.path, headers: { host, [API_TOKEN_HEADER]: AGENT_TOKEN } });
      expect(none.statusCode).toBe(415);
    });
  }

  describe('with a logged-in session', () => {
    let cookie = '';
    let csrf = '';
    beforeAll(async () => {
      const login = routes.find((r) => r.name === 'login') as Route;
      const wrong = await call(login, json, JSON.stringify({ password: 'not-it' }));
      expect(wrong.statusCode).toBe(401);
      const res = await call(login, json, JSON.stringify({ password }));
      expect(res.statusCode, res.body).toBe(200);
      const set = String(res.headers['set-cookie']);
      expect(set).toMatch(/HttpOnly/i);
      expect(set).toMatch(/SameSite=Strict/i);
      cookie = `${SESSION_COOKIE}=${/=([^;]+)/.exec(set)?.[1] ?? ''}`;
      csrf = (res.json() as { csrfToken: string }).csrfToken;
      expect(csrf.length).toBeGreaterThan(20);
    });

    for (const r of routes.filter((x) => x.method === 'POST' && !x.open)) {
      test(`POST ${r.name}: a session without the CSRF token -> 403, with a wrong one -> 403`, async () => {
        const res = await call(r, { ...json, cookie });
        expect(res.statusCode, res.body).toBe(403);
        expect(res.json()).toMatchObject({ code: 'E_CSRF' });
        const wrong = await call(r, { ...json, cookie, [CSRF_HEADER]: 'x'.repeat(csrf.length) });
        expect(wrong.statusCode).toBe(403);
      });
    }

    test('GETs work with the session alone; a change works with the CSRF token', async () => {
      const status = await call(routes.find((r) => r.name === 'status') as Route, { cookie });
      expect(status.statusCode, status.body).toBe(200);
      const snaps = await call(routes.find((r) => r.name === 'ops/snapshots') as Route, { ...json, cookie, [CSRF_HEADER]: csrf });
      expect(snaps.statusCode, snaps.body).toBe(200);
      expect(snaps.json()).toEqual([]);
    });

    test('API tokens for scripts: created once, accepted as a bearer token, revoked', async () => {
      const create = await call(
        routes.find((r) => r.name === 'tokenCreate') as Route,
        { ...json, cookie, [CSRF_HEADER]: csrf },
        JSON.stringify({ name: 'backup-script' }),
      );
      expect(create.statusCode, create.body).toBe(200);
      const { id, token } = create.json() as { id: string; token: string };
      const snaps = routes.find((r) => r.name === 'ops/snapshots') as Route;
      expect((await call(snaps, { ...json, authorization: `Bearer ${token}` })).statusCode).toBe(200);
      const revoke = await call(routes.find((r) => r.name === 'tokenRevoke') as Route, { ...json, cookie, [CSRF_HEADER]: csrf }, JSON.stringify({ id }));
      expect(revoke.statusCode, revoke.body).toBe(200);
      expect((await call(snaps, { ...json, authorization: `Bearer ${token}` })).statusCode).toBe(401);
      // the CLI's own token keeps working
      expect((await call(snaps, { ...json, [API_TOKEN_HEADER]: AGENT_TOKEN })).statusCode).toBe(200);
    });

    test('logins are rate limited per client', async () => {
      const login = routes.find((r) => r.name === 'login') as Route;
      let limited = false;
      for (let i = 0; i < 12 && !limited; i++) limited = (await call(login, json, JSON.stringify({ password: `wrong-${i}` }))).statusCode === 429;
      expect(limited).toBe(true);
    });
  });

  test('/health needs nothing; /metrics needs auth', async () => {
    expect((await app.inject({ method: 'GET', url: '/health', headers: { host } })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/metrics', headers: { host } })).statusCode).toBe(401);
    const m = await app.inject({ method: 'GET', url: '/metrics', headers: { host, [API_TOKEN_HEADER]: AGENT_TOKEN } });
    expect(m.statusCode).toBe(200);
    expect(m.headers['content-type']).toMatch(/text\/plain/);
  });
});
