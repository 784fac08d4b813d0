// The agent's HTTP API beyond the operations table (protocol/api.ts): authentication, the
// dashboard, settings and health. Every route is listed once in ROUTES with its method, whether it
// needs auth and whether it changes state (then a browser session must send the CSRF token), and
// one JSON schema for its body or query. The agent and the console both read this file.

import { API_PREFIX, type HostReachability, type JobProgress, type PeerListing } from './api.js';
import type { CairnConfig } from './config.js';
/** Session cookie set by login: HttpOnly, SameSite=Strict, Path=/. */
export const SESSION_COOKIE = 'cairn_session';
/** Header carrying the session's CSRF token on every state-changing request from a browser. */
export const CSRF_HEADER = 'x-cairn-csrf';

/** Every error body the API returns: a code of the error catalogue (protocol/errors.ts), with its exit code. */
export interface ApiError {
  code: string;
  message: string;
  exitCode?: number;
}

// ---- auth -------------------------------------------------------------------------------------

export interface LoginArgs {
  password: string;
}
export interface SessionInfo {
  /** How this request was authenticated. */
  via: 'session' | 'token';
  /** Send it back in the x-cairn-csrf header on every POST (browser sessions only). */
  csrfToken: string | null;
  agent: { name: string; peerId: string; version: string };
}
export interface PasswordChangeArgs {
  current: string;
  next: string;
}
/**
 * What an API token may do. 'admin': every route a logged-in session may use. 'read': only the
 * routes marked `auth: 'read'` (/metrics and the status summary): for a monitoring system, which
 * then cannot start operations, read files or mint tokens.
 */
export const TOKEN_SCOPES = ['admin', 'read'] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];

export interface TokenCreateArgs {
  name: string;
  /** Default 'admin'. */
  scope?: TokenScope;
}
export interface TokenCreateResult {
  id: string;
  name: string;
  scope: TokenScope;
  /** Shown once; only its SHA-256 is kept. */
  token: string;
}
export interface TokenListing {
  id: string;
  name: string;
  scope: TokenScope;
  createdAt: string;
}
export interface TokenRevokeArgs {
  id: string;
}

// ---- dashboard --------------------------------------------------------------------------------

export type SourceState = 'ok' | 'running' | 'stale' | 'failed' | 'never';

export interface SourceStatus {
  /** A configured source name, or the paths of an ad-hoc backup joined with ", ". */
  name: string;
  configured: boolean;
  paths: string[];
  volumes: string[];
  schedule: string | null;
  lastRun: { time: string; ok: boolean; snapshot: string | null; error: string | null } | null;
  lastSuccess: string | null;
  nextRun: string | null;
  state: SourceState;
  snapshots: number;
  /** Copies of the newest snapshot's packs: local, and at each friend (by name) how many of its packs they hold of how many. */
  copies: { local: boolean; friends: Array<{ name: string; peerId: string; packs: number; of: number }> };
  /** Its 3-2-1 status (SPEC 13.11); null before its first snapshot. */
  protection: SourceProtection | null;
  /** Its backup running now (state "running"), with the job's live progress; else null. */
  running: { jobId: string; startedAt: string | null; progress: JobProgress } | null;
}

/** A source's 3-2-1 state (SPEC 13.11), in words. */
export type ProtectionState = 'protected' | 'at risk' | 'not off-site';

export interface SourceProtection {
  state: ProtectionState;
  /** Every pack of the newest snapshot is here. */
  local: boolean;
  /** Off-site copies wanted of every pack (`replicas`), and the fewest any pack of the newest snapshot has. */
  wantedCopies: number;
  copies: number;
  /** Each friend: how many of the newest snapshot's packs it holds (counted copies), and when one was last proved there. */
  friends: Array<{ name: string; peerId: string; packs: number; of: number; lastProvedAt: string | null }>;
  /** The newest proof (a passed storage challenge or restore drill) of any of its copies. */
  lastProvedAt: string | null;
  /** Why the state, in one sentence. */
  reason: string;
  /** What to do about it, in plain words; null when protected. */
  nextStep: string | null;
}

export interface Alert {
  level: 'warning' | 'error';
  /** Stable kind: stale-backup, stale-replication, friend-offline, friend-problem, job-failed, under-replicated, challenge-failed (a copy failed a storage challenge and is not copied again yet), drill-failed (the last restore drill failed: a friend served damaged bytes or none), source-at-risk (a source is "at risk" or "not off-site", SPEC 13.11), dashboard-file (dashboard.json is damaged). */
  kind: string;
  message: string;
  since: string | null;
}

/**
 * What the router did with this agent's listening port (SPEC 13.1.2). off: port-mapping: false;
 * searching: asking the router; public: this host has a public address, nothing to map; mapped:
 * the router forwards a port to us (`address`, told to friends); carrier-nat: the router's own
 * internet address is a carrier's (100.64.0.0/10); double-nat: it is private (another router in
 * front); no-public-address: the router says it has none (either of those); not-on-lan: the agent
 * does not listen on the address the router knows (only loopback, say), so it is not asked;
 * no-router: nothing answered UPnP IGD or NAT-PMP; refused: the router answered but would not map.
 */
export type PortMappingState =
  'off' | 'searching' | 'public' | 'mapped' | 'carrier-nat' | 'double-nat' | 'no-public-address' | 'not-on-lan' | 'no-router' | 'refused';

export interface PortMappingStatus {
  state: PortMappingState;
  /** The protocol the router answered: UPnP IGD or NAT-PMP. */
  via: 'UPnP IGD' | 'NAT-PMP' | null;
  /** The mapped address friends are told (state mapped), e.g. /ip4/203.0.113.7/tcp/4001. */
  address: string | null;
  /** The same in plain words, e.g. "behind carrier-grade NAT: reachable only through friends' relays". */
  message: string;
}

export interface StatusResult {
  agent: { name: string; peerId: string; version: string; addresses: string[]; home: string };
  /** This host's reachability (null without the friend mesh). */
  reachability: HostReachability | null;
  /** Port mapping on the router (cairn.yaml port-mapping). */
  portMapping: PortMappingStatus;
  sources: SourceStatus[];
  friends: {
    total: number;
    online: number;
    /** How each friend is reached right now and why, as `cairn peers` says it (PeerListing's reach, via and reachWhy). */
    reach: Array<{ name: string; reach: PeerListing['reach']; via: string | null; reachWhy: string }>;
  };
  space: {
    /** Repository bytes on this disk (packs). */
    localBytes: number;
    /** Bytes friends hold for us, and what they granted us. */
    atFriendsBytes: number;
    grantedByFriendsBytes: number;
    /** Bytes we hold for friends, and what we granted them. */
    forFriendsBytes: number;
    grantedToFriendsBytes: number;
  };
  replication: { packs: number; underReplicated: number; wantedCopies: number; lastRun: string | null; lastSuccess: string | null };
  alerts: Alert[];
}

// ---- friends ------------------------------------------------------------------------------------

// FriendRemoveArgs and FriendRemoveResult (the unpair operation) are in api.ts, with the operations.
export type { FriendRemoveArgs, FriendRemoveResult } from './api.js';

// ---- settings -----------------------------------------------------------------------------------

/** Where notifications go (also the `notifications` block of cairn.yaml; see protocol/config.ts). */
export interface NotificationSettings {
  webhook: {
    /** Receives a JSON POST of NotificationMessage (gotify: https://HOST/message; ntfy: https://HOST/ with `topic`). */
    url: string;
    /** Extra headers, e.g. Authorization (ntfy) or X-Gotify-Key (gotify). */
    headers: Record<string, string>;
    /** ntfy: the topic, sent in the body (ntfy's JSON publishing). */
    topic?: string;
  } | null;
  email: { host: string; port: number; secure: boolean; user: string; pass: string; from: string; to: string[] } | null;
  /** No successful backup of a source (or replication round) for this long is an alert (ms). */
  staleAfterMs: number;
  /** A friend not seen for this long is an alert (ms). */
  friendOfflineAfterMs: number;
}

export interface NotificationTestResult {
  sent: string[];
  failed: Array<{ channel: string; error: string }>;
}

/** One notification, as the webhook receives it (JSON POST). */
export interface NotificationMessage {
  /** job-failed, stale-backup, stale-replication, friend-offline, friend-problem, source-state (a source's 3-2-1 state changed), test. */
  kind: string;
  level: 'warning' | 'error' | 'info';
  title: string;
  message: string;
  agent: string;
  time: string;
  /** ntfy and gotify read these (1 low .. 5 urgent for ntfy; gotify 0..10). */
  priority: number;
  /** ntfy's topic, when configured. */
  topic?: string;
  source?: string;
  friend?: string;
  jobId?: string;
}

export interface RecoveryPhraseCheckArgs {
  phrase: string;
}
export interface RecoveryPhraseCheckResult {
  matches: boolean;
  /** Why not, in one line (misspelled word, wrong length, another repository). */
  problem: string | null;
}
export interface PassphraseChangeArgs {
  current: string;
  next: string;
}
export interface PassphraseChangeResult {
  /** CAIRN_HOME/passphrase, when the agent reads its passphrase from there and it was rewritten; else null (update CAIRN_PASSPHRASE yourself). */
  updatedFile: string | null;
}

/**
 * One source as cairn.yaml writes it (its keys, not the parsed names), for the console's editor:
 * what it saves is exactly what a hand edit would write, checked by the same rules.
 */
export interface SourceFileForm {
  name: string;
  paths?: string[];
  volumes?: string[];
  'volume-selectors'?: string[];
  exclude?: string[];
  /** A cron expression; absent: only on demand. */
  schedule?: string;
  /** keep-last, keep-hourly, keep-daily, keep-weekly, keep-monthly, keep-yearly (a count or "unlimited"), keep-within ("30d"), keep-tag (list). */
  retention?: Record<string, number | string | string[]>;
  tags?: string[];
}
export interface SourceSaveArgs {
  source: SourceFileForm;
}
export interface SourceRemoveArgs {
  name: string;
}
export interface SourcesResult {
  /** The config file that was edited. */
  file: string;
  /** The sources now in effect (after the agent reloaded the file). */
  sources: CairnConfig['sources'];
}

// ---- routes -------------------------------------------------------------------------------------

/**
 * Who may call a route; every route the agent registers declares one (the server refuses to start
 * otherwise). 'none': /health, login and the static console files. 'read': a session or any API
 * token, including a read-scoped one. 'admin': a session or an admin-scoped API token.
 */
export const ROUTE_AUTH = ['none', 'read', 'admin'] as const;
export type RouteAuth = (typeof ROUTE_AUTH)[number];

export interface RouteDef {
  method: 'GET' | 'POST';
  path: string;
  auth: RouteAuth;
  /** JSON schema of the body (POST) or the query (GET). */
  schema: object;
}

const str = { type: 'string', maxLength: 4096 } as const;
const none = { type: 'object', additionalProperties: false, properties: {} } as const;
const body = (required: string[], properties: Record<string, object>) => ({ type: 'object', required, additionalProperties: false, properties });

export const API_V1 = API_PREFIX;

/** Routes besides the operations (POST /api/v1/ops/<name>, see OPS in agent/src/api/ops-routes.ts) and GET /api/v1/export. */
export const ROUTES = {
  health: { method: 'GET', path: '/health', auth: 'none', schema: none },
  metrics: { method: 'GET', path: '/metrics', auth: 'read', schema: none },
  login: {
    method: 'POST',
    path: `${API_V1}/auth/login`,
    auth: 'none',
    schema: body(['password'], { password: { type: 'string', minLength: 1, maxLength: 1024 } }),
  },
  logout: { method: 'POST', path: `${API_V1}/auth/logout`, auth: 'admin', schema: none },
  session: { method: 'GET', path: `${API_V1}/auth/session`, auth: 'admin', schema: none },
  passwordChange: {
    method: 'POST',
    path: `${API_V1}/auth/password`,
    auth: 'admin',
    schema: body(['current', 'next'], { current: { type: 'string', maxLength: 1024 }, next: { type: 'string', minLength: 12, maxLength: 1024 } }),
  },
  tokenCreate: {
    method: 'POST',
    path: `${API_V1}/auth/tokens`,
    auth: 'admin',
    schema: body(['name'], { name: { type: 'string', minLength: 1, maxLength: 64 }, scope: { enum: [...TOKEN_SCOPES] } }),
  },
  tokenList: { method: 'GET', path: `${API_V1}/auth/tokens`, auth: 'admin', schema: none },
  tokenRevoke: { method: 'POST', path: `${API_V1}/auth/tokens/revoke`, auth: 'admin', schema: body(['id'], { id: str }) },
  status: { method: 'GET', path: `${API_V1}/status`, auth: 'read', schema: none },
  friendRemove: {
    method: 'POST',
    path: `${API_V1}/friends/remove`,
    auth: 'admin',
    schema: body(['peerId', 'dryRun'], { peerId: str, dryRun: { type: 'boolean' } }),
  },
  notificationsGet: { method: 'GET', path: `${API_V1}/settings/notifications`, auth: 'admin', schema: none },
  notificationsSet: {
    method: 'POST',
    path: `${API_V1}/settings/notifications`,
    auth: 'admin',
    schema: body(['webhook', 'email', 'staleAfterMs', 'friendOfflineAfterMs'], {
      webhook: {
        anyOf: [
          { type: 'null' },
          body(['url', 'headers'], {
            url: { type: 'string', pattern: '^https?://', maxLength: 2048 },
            topic: { type: 'string', maxLength: 256 },
            headers: { type: 'object', maxProperties: 20, additionalProperties: { type: 'string', maxLength: 1024 } },
          }),
        ],
      },
      email: {
        anyOf: [
          { type: 'null' },
          body(['host', 'port', 'secure', 'user', 'pass', 'from', 'to'], {
            host: { type: 'string', minLength: 1, maxLength: 255 },
            port: { type: 'integer', minimum: 1, maximum: 65535 },
            secure: { type: 'boolean' },
            user: { type: 'string', maxLength: 255 },
            pass: { type: 'string', maxLength: 1024 },
            from: { type: 'string', minLength: 3, maxLength: 255 },
            to: { type: 'array', minItems: 1, maxItems: 20, items: { type: 'string', minLength: 3, maxLength: 255 } },
          }),
        ],
      },
      staleAfterMs: { type: 'integer', minimum: 60_000 },
      friendOfflineAfterMs: { type: 'integer', minimum: 60_000 },
    }),
  },
  notificationsTest: { method: 'POST', path: `${API_V1}/settings/notifications/test`, auth: 'admin', schema: none },
  sourceSave: {
    method: 'POST',
    path: `${API_V1}/settings/sources`,
    auth: 'admin',
    schema: body(['source'], {
      source: body(['name'], {
        name: { type: 'string', minLength: 1, maxLength: 64 },
        paths: { type: 'array', maxItems: 100, items: str },
        volumes: { type: 'array', maxItems: 100, items: str },
        'volume-selectors': { type: 'array', maxItems: 100, items: str },
        exclude: { type: 'array', maxItems: 1000, items: str },
        schedule: { type: 'string', maxLength: 256 },
        retention: {
          type: 'object',
          maxProperties: 8,
          additionalProperties: { anyOf: [{ type: 'integer' }, str, { type: 'array', maxItems: 100, items: str }] },
        },
        tags: { type: 'array', maxItems: 100, items: str },
      }),
    }),
  },
  sourceRemove: {
    method: 'POST',
    path: `${API_V1}/settings/sources/remove`,
    auth: 'admin',
    schema: body(['name'], { name: { type: 'string', minLength: 1, maxLength: 64 } }),
  },
  recoveryPhraseCheck: {
    method: 'POST',
    path: `${API_V1}/settings/recovery-phrase/check`,
    auth: 'admin',
    schema: body(['phrase'], { phrase: { type: 'string', maxLength: 1024 } }),
  },
  passphraseChange: {
    method: 'POST',
    path: `${API_V1}/settings/passphrase`,
    auth: 'admin',
    schema: body(['current', 'next'], { current: { type: 'string', maxLength: 1024 }, next: { type: 'string', minLength: 8, maxLength: 1024 } }),
  },
} as const satisfies Record<string, RouteDef>;
