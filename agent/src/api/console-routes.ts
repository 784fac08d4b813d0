// The routes of protocol/console-api.ts ROUTES besides /health and /metrics: login and sessions,
// API tokens, the dashboard, removing a friend, notification settings, and the repository's
// secrets. Auth, CSRF, Host and content type are checked before these run (server.ts).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  ROUTES,
  SESSION_COOKIE,
  type LoginArgs,
  type NotificationSettings,
  type PassphraseChangeArgs,
  type PasswordChangeArgs,
  type RecoveryPhraseCheckArgs,
  type SourceRemoveArgs,
  type SourceSaveArgs,
  type SourcesResult,
  type SessionInfo,
  type TokenCreateArgs,
  type TokenRevokeArgs,
} from '../../../protocol/console-api.js';
import { friendRemoveOp } from '../ops/friends.js';
import { passphraseChangeOp, recoveryPhraseCheckOp } from '../ops/keys.js';
import { needMesh, type Services } from '../ops/services.js';
import { AGENT_VERSION, statusOp, type StatusOptions } from '../ops/status.js';
import type { Notifier } from '../notify/notifier.js';
import { withoutSource, withSource } from '../config/edit.js';
import type { ConfigWatcher } from '../config/watch.js';
import type { ConsoleAuth } from './auth.js';
import { sendError } from './send-error.js';

/** Parts of the running agent the console routes use when present. */
export interface ConsoleHooks {
  notifier?: Notifier;
  /** cairn.yaml, reloaded after the console edits its sources. */
  config?: ConfigWatcher;
}

export interface ConsoleDeps {
  auth: ConsoleAuth;
  peerId: () => string;
  statusOptions: () => StatusOptions;
  hooks: ConsoleHooks;
}

type Handler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

export function registerConsoleRoutes(app: FastifyInstance, svc: Services, deps: ConsoleDeps): void {
  const { auth } = deps;
  const route = (name: keyof typeof ROUTES, handler: Handler) => {
    const r = ROUTES[name];
    const schema = r.method === 'GET' ? { querystring: r.schema } : { body: r.schema };
    app.route({ method: r.method, url: r.path, schema, handler, config: { auth: r.auth } });
  };
  const sessionInfo = (req: FastifyRequest, csrf: string | null): SessionInfo => ({
    via: req.authVia ?? 'session',
    csrfToken: csrf,
    agent: { name: svc.agentName ?? '', peerId: deps.peerId(), version: AGENT_VERSION },
  });

  route('login', async (req, reply) => {
    if (!auth.allowAttempt(req.ip)) {
      reply.header('retry-after', String(auth.retryAfter(req.ip)));
      return sendError(reply, 'E_RATE_LIMITED', `too many login attempts from ${req.ip}: wait ${auth.retryAfter(req.ip)} s`);
    }
    const s = await auth.login((req.body as LoginArgs).password);
    if (!s) return sendError(reply, 'E_LOGIN', 'wrong password');
    reply.setCookie(SESSION_COOKIE, s.id, { httpOnly: true, sameSite: 'strict', path: '/' });
    req.authVia = 'session';
    return sessionInfo(req, s.csrf);
  });
  route('logout', async (req, reply) => {
    if (req.sessionId) auth.logout(req.sessionId);
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return { ok: true };
  });
  route('session', async (req) => sessionInfo(req, req.sessionId ? (auth.session(req.sessionId)?.csrf ?? null) : null));
  route('passwordChange', async (req) => {
    const a = req.body as PasswordChangeArgs;
    await auth.changePassword(a.current, a.next, req.sessionId);
    return { ok: true };
  });
  route('tokenCreate', async (req) => {
    const { name, scope } = req.body as TokenCreateArgs;
    return auth.createToken(name, scope);
  });
  route('tokenList', async () => auth.listTokens());
  route('tokenRevoke', async (req) => {
    await auth.revokeToken((req.body as TokenRevokeArgs).id);
    return { ok: true };
  });
  route('status', async () => statusOp(svc, deps.statusOptions()));
  route('friendRemove', async (req) => friendRemoveOp({ mesh: needMesh(svc, 'removing a friend') }, req.body as { peerId: string; dryRun: boolean }));
  route('notificationsGet', async (_req, reply) => {
    const n = deps.hooks.notifier;
    if (!n) return sendError(reply, 'E_ROUTE', 'notifications are not available in this agent');
    return { settings: n.masked(), recent: n.recent.slice(-20).reverse() };
  });
  route('notificationsSet', async (req, reply) => {
    const n = deps.hooks.notifier;
    if (!n) return sendError(reply, 'E_ROUTE', 'notifications are not available in this agent');
    await n.set(req.body as NotificationSettings);
    return { settings: n.masked(), recent: n.recent.slice(-20).reverse() };
  });
  route('notificationsTest', async (_req, reply) => {
    const n = deps.hooks.notifier;
    if (!n) return sendError(reply, 'E_ROUTE', 'notifications are not available in this agent');
    return n.send({
      kind: 'test',
      level: 'info',
      title: 'Cairn: test notification',
      message: `A test notification from ${svc.agentName ?? 'the agent'}: this channel works.`,
    });
  });
  const editSources = async (reply: FastifyReply, change: (text: string, file: string) => string): Promise<SourcesResult | FastifyReply> => {
    const watcher = deps.hooks.config;
    if (!watcher) return sendError(reply, 'E_ROUTE', 'this agent runs without a config file');
    if (!(await watcher.edit((text) => change(text, watcher.file), 'changed from the console')))
      return sendError(reply, 'E_INTERNAL', `${watcher.file} was written but does not load: see the agent's log`);
    return { file: watcher.file, sources: watcher.current.sources };
  };
  route('sourceSave', async (req, reply) => editSources(reply, (text, file) => withSource(text, file, (req.body as SourceSaveArgs).source)));
  route('sourceRemove', async (req, reply) => editSources(reply, (text, file) => withoutSource(text, file, (req.body as SourceRemoveArgs).name)));
  route('recoveryPhraseCheck', async (req) => recoveryPhraseCheckOp(svc, req.body as RecoveryPhraseCheckArgs));
  route('passphraseChange', async (req) => svc.repo.writeLock.with(1, () => passphraseChangeOp(svc, req.body as PassphraseChangeArgs)));
}
