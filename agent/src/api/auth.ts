// Console authentication: the admin password (generated at first start, printed to the agent log
// at every start until the first login, then kept only as an Argon2id hash in
// CAIRN_HOME/console-auth.json, mode 0600; the file's format is ops/console-auth-file.ts), browser sessions
// with a CSRF token each, named API tokens for scripts (kept as SHA-256), and a per-client limit
// on login attempts. The agent's own token in agent.json (used by the CLI) is also accepted.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TokenCreateResult, TokenListing, TokenScope } from '../../../protocol/console-api.js';
import { hashPassword, verifyPassword } from '../crypto/password.js';
import type { Clock } from '../util/clock.js';
import { CairnError, UsageError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fsx.js';
import { AUTH_FILE, AUTH_VERSION, freshAuthFile, type AuthFile } from '../ops/console-auth-file.js';

/** Sessions end after this long without a request. */
export const SESSION_IDLE_MS = 12 * 3600_000;
const MAX_SESSIONS = 64;
/** Login attempts per client address per window; more answer 429 until the window passes. */
export const LOGIN_ATTEMPTS = 5;
export const LOGIN_WINDOW_MS = 60_000;
const MAX_TOKENS = 50;

/** The log line that hands the generated admin password over. */
function firstPasswordLine(password: string, path: string): string {
  return `console: the admin password is ${password} (shown at every start until the first login; only its Argon2id hash stays in ${path} after that; change it in Settings, or make a new one with "cairn console reset-password")`;
}

interface Session {
  csrf: string;
  lastUsed: number;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class ConsoleAuth {
  private file: AuthFile;
  private readonly path: string;
  private readonly clock: Clock;
  private readonly agentToken: string;
  private readonly sessions = new Map<string, Session>();
  private readonly attempts = new Map<string, { windowStart: number; count: number }>();

  private constructor(path: string, file: AuthFile, clock: Clock, agentToken: string) {
    this.path = path;
    this.file = file;
    this.clock = clock;
    this.agentToken = agentToken;
  }

  /** Loads CAIRN_HOME/console-auth.json, or creates it with a new admin password; `log` prints that password at every start until the first login. */
  static async open(home: string, clock: Clock, agentToken: string, log: (line: string) => void): Promise<ConsoleAuth> {
    const path = join(home, AUTH_FILE);
    let text: string | undefined;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (text === undefined) {
      const file = await freshAuthFile();
      await writeFileAtomic(path, Buffer.from(JSON.stringify(file, null, 2) + '\n'), 0o600);
      log(firstPasswordLine(file.firstPassword as string, path));
      return new ConsoleAuth(path, file, clock, agentToken);
    }
    let file: AuthFile;
    try {
      file = JSON.parse(text) as AuthFile;
    } catch {
      throw new CairnError('E_AUTH_FILE', `${path} is not valid JSON: run "cairn console reset-password" (agent stopped) for a new admin password`);
    }
    if (file.version !== AUTH_VERSION || typeof file.passwordHash !== 'string' || !file.passwordHash.startsWith('$argon2id$') || !Array.isArray(file.tokens)) {
      throw new CairnError(
        'E_AUTH_FILE',
        `${path} has an unknown version or missing fields: run "cairn console reset-password" (agent stopped) for a new admin password`,
      );
    }
    if (typeof file.firstPassword === 'string') log(firstPasswordLine(file.firstPassword, path));
    return new ConsoleAuth(path, file, clock, agentToken);
  }

  private async save(): Promise<void> {
    await writeFileAtomic(this.path, Buffer.from(JSON.stringify(this.file, null, 2) + '\n'), 0o600);
  }

  /** Counts a login attempt by `client`; false when it is over the limit (answer 429). */
  allowAttempt(client: string): boolean {
    const now = this.clock.now();
    const a = this.attempts.get(client);
    if (!a || now - a.windowStart >= LOGIN_WINDOW_MS) {
      if (this.attempts.size > 10_000) this.attempts.clear();
      this.attempts.set(client, { windowStart: now, count: 1 });
      return true;
    }
    a.count += 1;
    return a.count <= LOGIN_ATTEMPTS;
  }

  /** Seconds until `client` may try again. */
  retryAfter(client: string): number {
    const a = this.attempts.get(client);
    return a ? Math.max(1, Math.ceil((a.windowStart + LOGIN_WINDOW_MS - this.clock.now()) / 1000)) : 1;
  }

  /** A new session (its ID for the cookie, and its CSRF token), or undefined for a wrong password. */
  async login(password: string): Promise<{ id: string; csrf: string } | undefined> {
    if (!(await verifyPassword(this.file.passwordHash, password))) return undefined;
    if (this.file.firstPassword !== undefined) {
      // the generated password reached its owner: from now on only its hash is kept
      const { firstPassword: _handedOver, ...rest } = this.file;
      this.file = rest;
      await this.save();
    }
    this.expire();
    if (this.sessions.size >= MAX_SESSIONS) {
      const oldest = [...this.sessions.entries()].sort((a, b) => a[1].lastUsed - b[1].lastUsed)[0];
      if (oldest) this.sessions.delete(oldest[0]);
    }
    const id = randomBytes(32).toString('base64url');
    const csrf = randomBytes(32).toString('base64url');
    this.sessions.set(id, { csrf, lastUsed: this.clock.now() });
    return { id, csrf };
  }

  private expire(): void {
    const now = this.clock.now();
    for (const [id, s] of this.sessions) if (now - s.lastUsed > SESSION_IDLE_MS) this.sessions.delete(id);
  }

  /** The session for a cookie value, refreshed; undefined when unknown or idle too long. */
  session(id: string | undefined): { id: string; csrf: string } | undefined {
    if (!id) return undefined;
    const s = this.sessions.get(id);
    if (!s) return undefined;
    const now = this.clock.now();
    if (now - s.lastUsed > SESSION_IDLE_MS) {
      this.sessions.delete(id);
      return undefined;
    }
    s.lastUsed = now;
    return { id, csrf: s.csrf };
  }

  csrfMatches(sessionId: string, given: unknown): boolean {
    const s = this.sessions.get(sessionId);
    return s !== undefined && typeof given === 'string' && sameSecret(given, s.csrf);
  }

  logout(id: string): void {
    this.sessions.delete(id);
  }

  /** The scope of the agent's own token (agent.json: admin) or of a named API token; undefined when it is neither. */
  tokenScope(given: unknown): TokenScope | undefined {
    if (typeof given !== 'string' || given.length === 0 || given.length > 256) return undefined;
    if (sameSecret(given, this.agentToken)) return 'admin';
    const h = sha256(given);
    const t = this.file.tokens.find((x) => timingSafeEqual(Buffer.from(x.sha256, 'hex'), h));
    return t ? (t.scope ?? 'admin') : undefined;
  }

  async changePassword(current: string, next: string, keepSession?: string): Promise<void> {
    if (!(await verifyPassword(this.file.passwordHash, current))) throw new UsageError('the current password is wrong', 'E_LOGIN');
    const { firstPassword: _handedOver, ...rest } = this.file;
    this.file = { ...rest, passwordHash: await hashPassword(next) };
    await this.save();
    for (const id of [...this.sessions.keys()]) if (id !== keepSession) this.sessions.delete(id);
  }

  listTokens(): TokenListing[] {
    return this.file.tokens.map(({ id, name, createdAt, scope }) => ({ id, name, createdAt, scope: scope ?? 'admin' }));
  }

  async createToken(name: string, scope: TokenScope = 'admin'): Promise<TokenCreateResult> {
    if (this.file.tokens.length >= MAX_TOKENS) throw new UsageError(`at most ${MAX_TOKENS} API tokens: revoke one first`, 'E_TOKENS_FULL');
    const token = `cairn_${randomBytes(24).toString('base64url')}`;
    const id = randomBytes(6).toString('hex');
    this.file.tokens.push({ id, name, sha256: sha256(token).toString('hex'), createdAt: new Date(this.clock.now()).toISOString(), scope });
    await this.save();
    return { id, name, scope, token };
  }

  async revokeToken(id: string): Promise<void> {
    const before = this.file.tokens.length;
    this.file.tokens = this.file.tokens.filter((t) => t.id !== id);
    if (this.file.tokens.length === before) throw new UsageError(`no API token with id ${id}`, 'E_NOT_FOUND');
    await this.save();
  }
}
