// The agent's local HTTP API (fastify) and the console's static files, bound to loopback by
// default. Every request's Host header must name this listener (DNS rebinding). Every route
// declares who may call it (config.auth, see ROUTE_AUTH; a route without one stops the server from
// starting), and the check runs on the route the router matched, not on the URL's text: only
// /health, login and the console's static files are public. The rest need an API token
// (x-cairn-token or Authorization: Bearer; the CLI uses the one in CAIRN_HOME/agent.json; a
// read-scoped token reaches only the 'read' routes) or a console session cookie; a session's
// state-changing request (every POST) must also carry its CSRF token in x-cairn-csrf. Bodies are
// exactly application/json, checked against one schema per route.
import { existsSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyCookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance, type FastifyRequest, type RouteOptions } from 'fastify';
import { API_TOKEN_HEADER } from '../../../protocol/api.js';
import { errorSpec } from '../../../protocol/errors.js';
import { CSRF_HEADER, ROUTE_AUTH, ROUTES, SESSION_COOKIE, type RouteAuth } from '../../../protocol/console-api.js';
import type { Services } from '../ops/services.js';
import type { StatusOptions } from '../ops/status.js';
import { CairnError, EXIT_USAGE } from '../util/errors.js';
import type { ConsoleAuth } from './auth.js';
import { ConsoleTlsError } from './tls.js';
import { registerConsoleRoutes, type ConsoleHooks } from './console-routes.js';
import { buildMetrics } from './metrics.js';
import { registerOpsRoutes, type ExtraOp } from './ops-routes.js';
import { sendError } from './send-error.js';

export type RegisteredRoute = RouteOptions & { config?: { auth?: RouteAuth } };

export interface ApiOptions {
  host: string;
  port: number;
  auth: ConsoleAuth;
  /** More names the Host header may carry (a LAN name, a reverse proxy's name). */
  allowedHosts?: string[];
  /** Where the built console is (default: dist/console of this installation). */
  consoleDir?: string;
  statusOptions?: () => StatusOptions;
  hooks?: ConsoleHooks;
  /** HTTPS (api/tls.ts): required beyond loopback; cookies are then Secure. */
  tls?: { key: string; cert: string };
  /** Operations beyond the catalogue (the benchmark's agent adds one). */
  extraOps?: Record<string, ExtraOp>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host.replace(/^\[|\]$/g, '')) || /^127\./.test(host);
}

/** The built console: dist/console next to the compiled agent, or under the repository when run from source. */
export function defaultConsoleDir(): string {
  if (process.env.CAIRN_CONSOLE_DIR) return resolve(process.env.CAIRN_CONSOLE_DIR);
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
  return basename(root) === 'dist' ? join(root, 'console') : join(root, 'dist', 'console');
}

function bracket(h: string): string {
  return h.includes(':') && !h.startsWith('[') ? `[${h}]` : h;
}

/** Host names a request may use: loopback names, the bound address, and for a wildcard bind this machine's names and addresses. */
function allowedHostNames(bind: string, extra: string[]): Set<string> {
  const names = new Set(['127.0.0.1', 'localhost', '[::1]', bracket(bind)]);
  if (bind === '0.0.0.0' || bind === '::') {
    names.add(hostname());
    names.add(`${hostname()}.local`);
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) names.add(bracket(a.address));
  }
  for (const e of extra) names.add(bracket(e.toLowerCase()));
  return names;
}

const JSON_TYPE_RE = /^application\/json\s*(;\s*charset=utf-8\s*)?$/i;

function bearer(req: FastifyRequest): string | undefined {
  const t = req.headers[API_TOKEN_HEADER];
  if (typeof t === 'string') return t;
  const a = req.headers.authorization;
  return typeof a === 'string' && a.startsWith('Bearer ') ? a.slice(7) : undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The console session's cookie value, when the request came from a logged-in browser. */
    sessionId?: string;
    authVia?: 'session' | 'token';
  }
  interface FastifyInstance {
    /** Every route registered, with its options (the route-auth tests walk them all). */
    cairnRoutes: RegisteredRoute[];
  }
  interface FastifyContextConfig {
    /** Who may call the route (required on every route, checked when it is registered). */
    auth?: RouteAuth;
    /** The route takes a raw application/octet-stream body, streamed (backup --stdin), instead of JSON. */
    octetStream?: boolean;
  }
}

export function buildApi(svc: Services, opts: ApiOptions, peerId: () => string): FastifyInstance {
  // beyond loopback the password, session cookie and tokens must not travel in clear
  if (!isLoopback(opts.host) && !opts.tls)
    throw new ConsoleTlsError(
      `the console would listen on ${opts.host} beyond this machine without TLS: give console tls-cert and tls-key, or let the agent make a self-signed certificate`,
    );
  const base = { logger: false, trustProxy: false, bodyLimit: 1024 * 1024 } as const;
  // with https the instance's server type differs (https.Server); the routes and hooks are the same
  const app = (opts.tls ? Fastify({ ...base, https: { key: opts.tls.key, cert: opts.tls.cert } }) : Fastify(base)) as unknown as FastifyInstance;
  const { auth } = opts;
  const hostNames = allowedHostNames(opts.host, opts.allowedHosts ?? []);
  /**
   * Host must name this listener by an allowed name. Any port (or none) is fine: a published
   * port (docker -p 18080:8080) or a reverse proxy changes it, and a rebinding attacker's page
   * can only send its own name, which the name check refuses.
   */
  const hostAllowed = (host: string | undefined): boolean => {
    const m = /^(\[[^\]]+\]|[^:]+)(?::\d{1,5})?$/.exec(host ?? '');
    return m !== null && hostNames.has((m[1] as string).toLowerCase());
  };
  // parseOptions are also setCookie's defaults: over TLS every cookie is Secure
  app.register(fastifyCookie, opts.tls ? { parseOptions: { secure: true } } : {});
  // Every route declares who may call it (config.auth); the server refuses to start when one does
  // not (checked once all plugins added theirs: the static files' scope marks its routes itself).
  const routes: RegisteredRoute[] = [];
  app.decorate('cairnRoutes', routes);
  app.addHook('onRoute', (route) => {
    routes.push(route);
  });
  app.addHook('onReady', async () => {
    for (const r of routes) {
      if (!(ROUTE_AUTH as readonly unknown[]).includes(r.config?.auth))
        throw new Error(`route ${String(r.method)} ${r.url} declares no auth (config.auth: ${ROUTE_AUTH.join(' | ')})`);
    }
  });
  app.addHook('onRequest', async (req, reply) => {
    if (!hostAllowed(req.headers.host)) return sendError(reply, 'E_HOST', `Host ${req.headers.host ?? '(none)'} is not this agent`);
    const changes = req.method !== 'GET' && req.method !== 'HEAD';
    const streamed = req.routeOptions.config.octetStream === true && req.headers['content-type'] === 'application/octet-stream';
    if (changes && !streamed && !JSON_TYPE_RE.test(req.headers['content-type'] ?? '')) {
      return sendError(reply, 'E_CONTENT_TYPE', `request bodies must be ${'application/json'}, not ${req.headers['content-type'] ?? 'absent'}`);
    }
    // Decided by the route the router matched (whatever spelling of the URL led there), never by
    // the URL text; a request no route matched only reaches the 404 answer.
    if (req.is404) return;
    const need = req.routeOptions.config.auth ?? 'admin'; // deny by default (onReady makes it moot)
    if (need === 'none') return;
    const token = bearer(req);
    if (token !== undefined) {
      const scope = auth.tokenScope(token);
      if (scope === undefined) return sendError(reply, 'E_AUTH', 'missing or wrong API token');
      if (scope !== 'admin' && need !== scope)
        return sendError(reply, 'E_SCOPE', `this API token is ${scope}-only; ${req.method} ${req.routeOptions.url} needs an admin token`);
      req.authVia = 'token';
      return;
    }
    const session = auth.session(req.cookies[SESSION_COOKIE]);
    if (!session) return sendError(reply, 'E_AUTH', 'not logged in (or the session expired), and no API token');
    req.sessionId = session.id;
    req.authVia = 'session';
    if (changes && !auth.csrfMatches(session.id, req.headers[CSRF_HEADER])) return sendError(reply, 'E_CSRF', `missing or wrong ${CSRF_HEADER} header`);
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('cache-control', 'no-store');
    reply.header(
      'content-security-policy',
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    );
    return payload;
  });
  app.setErrorHandler(async (err, req, reply) => {
    if (err instanceof CairnError) {
      // status and exit code from the catalogue; a code missing there (a bug the catalogue test catches) by its exit code
      const spec = errorSpec(err.code);
      const status = spec?.http ?? (err.exitCode === EXIT_USAGE ? 400 : 500);
      return reply.code(status).send({ code: err.code, message: err.message, exitCode: spec?.exit ?? err.exitCode });
    }
    const e = err as { validation?: unknown; statusCode?: number; message: string; code?: string };
    if (e.statusCode === 415) return sendError(reply, 'E_CONTENT_TYPE', e.message);
    if (e.validation || e.statusCode === 400) return sendError(reply, 'E_BAD_REQUEST', e.message);
    if (e.statusCode === 413) return sendError(reply, 'E_BAD_REQUEST', e.message, 413);
    // the static files refuse dot segments, dot files and the like (403): to a client, no such route
    if (e.statusCode === 403 || e.statusCode === 404) return sendError(reply, 'E_ROUTE', `no route ${req.method} ${req.url.split('?')[0]}`);
    return sendError(reply, 'E_INTERNAL', e.message);
  });
  app.setNotFoundHandler(async (req, reply) => sendError(reply, 'E_ROUTE', `no route ${req.method} ${req.url.split('?')[0]}`));

  app.get(ROUTES.health.path, { config: { auth: ROUTES.health.auth } }, async () => ({ ok: true, peerId: peerId() }));
  const statusOptions = opts.statusOptions ?? (() => ({ staleAfterMs: 2 * 86400_000, friendOfflineAfterMs: 3 * 86400_000 }));
  const registry = buildMetrics(svc, statusOptions);
  app.get(ROUTES.metrics.path, { config: { auth: ROUTES.metrics.auth } }, async (_req, reply) => {
    const text = await registry.metrics();
    return reply.type(registry.contentType).send(text);
  });
  registerOpsRoutes(app, svc, opts.extraOps);
  registerConsoleRoutes(app, svc, { auth, peerId, statusOptions, hooks: opts.hooks ?? {} });

  const consoleDir = opts.consoleDir ?? defaultConsoleDir();
  if (existsSync(join(consoleDir, 'index.html'))) {
    // the console's files are public: a scope of their own marks the plugin's routes so
    app.register(async (files) => {
      files.addHook('onRoute', (route) => {
        route.config = { ...route.config, auth: 'none' };
      });
      await files.register(fastifyStatic, { root: consoleDir, prefix: '/', index: ['index.html'], wildcard: true, serveDotFiles: false });
    });
  } else {
    app.get('/', { config: { auth: 'none' } }, async (_req, reply) =>
      reply.type('text/plain; charset=utf-8').send(`The console is not built (${consoleDir} has no index.html): run "npm run build".\n`),
    );
  }
  return app;
}
