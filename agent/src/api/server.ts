// The agent's local HTTP API (fastify), bound to loopback by default. Scripts and the CLI
// authenticate with the API token kept in CAIRN_HOME/agent.json (mode 0600); requests whose Host
// header is not this listener's are refused (DNS rebinding); /health needs no auth.
import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { API_TOKEN_HEADER } from '../../../protocol/api.js';
import type { Services } from '../ops/services.js';
import { CairnError, EXIT_USAGE } from '../util/errors.js';
import { registerOpsRoutes } from './ops-routes.js';

export interface ApiOptions {
  host: string;
  port: number;
  token: string;
}

function tokenMatches(given: unknown, token: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function buildApi(svc: Services, opts: ApiOptions, peerId: () => string): FastifyInstance {
  const app = Fastify({ logger: false, trustProxy: false, bodyLimit: 1024 * 1024 });
  const hostNames = new Set(['127.0.0.1', 'localhost', '[::1]', opts.host.includes(':') ? `[${opts.host}]` : opts.host]);
  /** Host must name this listener (by a loopback name or the configured host) and its actual port. */
  const hostAllowed = (host: string | undefined): boolean => {
    const m = /^(.+):(\d+)$/.exec(host ?? '');
    const addr = app.server.address();
    return m !== null && hostNames.has(m[1] as string) && addr !== null && typeof addr === 'object' && Number(m[2]) === addr.port;
  };
  app.addHook('onRequest', async (req, reply) => {
    if (!hostAllowed(req.headers.host)) return reply.code(421).send({ code: 'E_HOST', message: `Host ${req.headers.host ?? '(none)'} is not this agent` });
    if (req.url === '/health') return;
    if (!tokenMatches(req.headers[API_TOKEN_HEADER], opts.token)) return reply.code(401).send({ code: 'E_AUTH', message: 'missing or wrong API token' });
  });
  app.setErrorHandler(async (err, _req, reply) => {
    if (err instanceof CairnError) return reply.code(err.exitCode === EXIT_USAGE ? 400 : 500).send({ code: err.code, message: err.message, exitCode: err.exitCode });
    const e = err as { validation?: unknown; statusCode?: number; message: string; code?: string };
    if (e.validation || e.statusCode === 400 || e.statusCode === 415) return reply.code(e.statusCode ?? 400).send({ code: 'E_BAD_REQUEST', message: e.message, exitCode: EXIT_USAGE });
    return reply.code(500).send({ code: 'E_INTERNAL', message: e.message, exitCode: 1 });
  });
  app.get('/health', async () => ({ ok: true, peerId: peerId() }));
  registerOpsRoutes(app, svc);
  return app;
}
