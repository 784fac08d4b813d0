// Notifications: a failed backup at once, and staleness (no successful backup or replication for
// a while, a friend offline for days, a friend's failed audit) when it starts, again daily while
// it lasts. Channels: a webhook (JSON POST, works with ntfy and gotify) and e-mail over SMTP
// (nodemailer). Settings live in CAIRN_HOME/notifications.json (mode 0600), edited in the console.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import type { Alert, NotificationMessage, NotificationSettings, NotificationTestResult, ProtectionState, SourceStatus } from '../../../protocol/console-api.js';
import type { Activity, ActivityEvent } from '../ops/activity.js';
import { DEFAULT_FRIEND_OFFLINE_AFTER_MS, DEFAULT_STALE_AFTER_MS } from '../ops/status.js';
import { NOTIFICATIONS_FILE, NOTIFIED_FILE } from '../repo/home.js';
import type { Clock } from '../util/clock.js';
import { CairnError, errorMessage } from '../util/errors.js';
import { writeFileAtomic } from '../util/fsx.js';

export const NOTIFY_FILE = NOTIFICATIONS_FILE;
/** An alert that lasts is sent again after this long. */
export const REPEAT_AFTER_MS = 24 * 3600_000;
const WEBHOOK_TIMEOUT_MS = 10_000;
/** Source states remembered in notified.json; past it the file keeps the first ones (sources beyond it may be notified again after a restart). */
export const MAX_NOTIFIED_SOURCES = 1000;
/** Shown instead of a stored SMTP password. */
export const MASKED = '********';

export const DEFAULT_SETTINGS: NotificationSettings = {
  webhook: null,
  email: null,
  staleAfterMs: DEFAULT_STALE_AFTER_MS,
  friendOfflineAfterMs: DEFAULT_FRIEND_OFFLINE_AFTER_MS,
};

export interface NotifierOptions {
  home: string;
  clock: Clock;
  agentName: string;
  log: (line: string) => void;
  /** After the settings were saved (the agent sends them to friends with its next head). */
  onSaved?: () => void;
}

const PRIORITY = { info: 3, warning: 4, error: 5 } as const;

export class Notifier {
  private settings: NotificationSettings;
  private readonly opts: NotifierOptions;
  private readonly sentAt = new Map<string, number>();
  /** Each source's 3-2-1 state as last seen (protection()). */
  private readonly sourceStates = new Map<string, ProtectionState>();
  /** Every message sent (or tried), newest last: the console shows them. */
  readonly recent: Array<NotificationMessage & { delivered: string[]; failed: string[] }> = [];

  private constructor(opts: NotifierOptions, settings: NotificationSettings) {
    this.opts = opts;
    this.settings = settings;
  }

  static async open(opts: NotifierOptions): Promise<Notifier> {
    const path = join(opts.home, NOTIFY_FILE);
    let settings = DEFAULT_SETTINGS;
    try {
      settings = { ...DEFAULT_SETTINGS, ...(JSON.parse(await readFile(path, 'utf8')) as Partial<NotificationSettings>) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new CairnError('E_NOTIFY_FILE', `${path} is not valid JSON: ${errorMessage(err)}`);
    }
    const notifier = new Notifier(opts, settings);
    await notifier.loadNotified();
    return notifier;
  }

  /** The source states notified before the last stop (notified.json); a damaged file is logged and starts afresh. */
  private async loadNotified(): Promise<void> {
    const path = join(this.opts.home, NOTIFIED_FILE);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        this.opts.log(`notifications: ${path} cannot be read (${errorMessage(err)}): source states may be notified again`);
      return;
    }
    try {
      const parsed = JSON.parse(text) as { version?: unknown; sources?: Record<string, unknown> };
      if (parsed.version !== 1 || typeof parsed.sources !== 'object' || parsed.sources === null) throw new Error('not a version 1 file');
      for (const [name, state] of Object.entries(parsed.sources).slice(0, MAX_NOTIFIED_SOURCES))
        if (state === 'protected' || state === 'at risk' || state === 'not off-site') this.sourceStates.set(name, state);
    } catch (err) {
      this.opts.log(`notifications: ${path} is damaged (${errorMessage(err)}): source states may be notified again`);
    }
  }

  private async saveNotified(): Promise<void> {
    const sources = Object.fromEntries([...this.sourceStates].slice(0, MAX_NOTIFIED_SOURCES));
    try {
      await writeFileAtomic(join(this.opts.home, NOTIFIED_FILE), Buffer.from(`${JSON.stringify({ version: 1, sources }, null, 2)}\n`), 0o600);
    } catch (err) {
      this.opts.log(`notifications: cannot write ${NOTIFIED_FILE} (${errorMessage(err)}): a restart may notify source states again`);
    }
  }

  get(): NotificationSettings {
    return this.settings;
  }

  /** Settings as the console sees them: the SMTP password masked. */
  masked(): NotificationSettings {
    const s = this.settings;
    return { ...s, email: s.email ? { ...s.email, pass: s.email.pass ? MASKED : '' } : null };
  }

  async set(next: NotificationSettings): Promise<void> {
    const email = next.email && next.email.pass === MASKED ? { ...next.email, pass: this.settings.email?.pass ?? '' } : next.email;
    this.settings = { ...next, email };
    await writeFileAtomic(join(this.opts.home, NOTIFY_FILE), Buffer.from(JSON.stringify(this.settings, null, 2) + '\n'), 0o600);
    this.opts.onSaved?.();
  }

  /** Sends failed backups on as they happen. */
  watch(activity: Activity): () => void {
    return activity.on((e: ActivityEvent) => {
      if (e.type !== 'backup' || e.run.ok) return;
      const r = e.run;
      void this.send({
        kind: 'job-failed',
        level: 'error',
        title: `Cairn: ${r.scheduled ? 'scheduled ' : ''}backup of ${r.source} failed`,
        message: `The ${r.scheduled ? 'scheduled ' : ''}backup of ${r.source} on ${this.opts.agentName} failed at ${r.time}: ${r.error ?? 'unknown error'}`,
        source: r.source,
        ...(r.jobId ? { jobId: r.jobId } : {}),
      });
    });
  }

  /** Sends alerts that are new (or have lasted another day); forgets those that cleared. */
  async alerts(list: Alert[]): Promise<void> {
    const now = this.opts.clock.now();
    const live = new Set<string>();
    for (const a of list) {
      // sent when they happen (a source's state: on each change, protection()), or shown only
      if (a.kind === 'job-failed' || a.kind === 'friend-shortfall' || a.kind === 'under-replicated' || a.kind === 'source-at-risk') continue;
      const key = `${a.kind}\n${a.message}`;
      live.add(key);
      const last = this.sentAt.get(key);
      if (last !== undefined && now - last < REPEAT_AFTER_MS) continue;
      this.sentAt.set(key, now);
      await this.send({ kind: a.kind, level: a.level, title: `Cairn: ${a.message}`, message: `${a.message} (agent ${this.opts.agentName})` });
    }
    for (const k of [...this.sentAt.keys()]) if (!live.has(k)) this.sentAt.delete(k);
  }

  /**
   * Sends one notification each time a source's 3-2-1 state changes (SPEC 13.11): to "at risk" or
   * "not off-site" with the reason and the next step, and back to "protected". The first state seen
   * of a source is sent only when it is not "protected".
   */
  async protection(sources: readonly SourceStatus[]): Promise<void> {
    for (const src of sources) {
      const p = src.protection;
      if (!p) continue;
      const before = this.sourceStates.get(src.name);
      if (before === p.state) continue;
      this.sourceStates.set(src.name, p.state);
      // recorded before it is sent: a restart right after does not send it twice
      await this.saveNotified();
      if (before === undefined && p.state === 'protected') continue;
      await this.send(
        p.state === 'protected'
          ? {
              kind: 'source-state',
              level: 'info',
              title: `Cairn: ${src.name} is protected again`,
              message: `${src.name} is protected again on ${this.opts.agentName}: ${p.reason}`,
              source: src.name,
            }
          : {
              kind: 'source-state',
              level: p.state === 'not off-site' ? 'error' : 'warning',
              title: `Cairn: ${src.name} is ${p.state}`,
              message: `${src.name} is ${p.state} on ${this.opts.agentName}: ${p.reason}. Next step: ${p.nextStep ?? 'none'}`,
              source: src.name,
            },
      );
    }
  }

  async send(m: Omit<NotificationMessage, 'agent' | 'time' | 'priority'>): Promise<NotificationTestResult> {
    const s = this.settings;
    const msg: NotificationMessage = {
      ...m,
      agent: this.opts.agentName,
      time: new Date(this.opts.clock.now()).toISOString(),
      priority: PRIORITY[m.level],
      ...(s.webhook?.topic ? { topic: s.webhook.topic } : {}),
    };
    const result: NotificationTestResult = { sent: [], failed: [] };
    if (s.webhook) {
      try {
        const auth = process.env.CAIRN_WEBHOOK_AUTHORIZATION;
        await postWebhook(s.webhook.url, { ...s.webhook.headers, ...(auth ? { authorization: auth } : {}) }, msg);
        result.sent.push('webhook');
      } catch (err) {
        result.failed.push({ channel: 'webhook', error: errorMessage(err) });
      }
    }
    if (s.email) {
      try {
        const e = s.email;
        // the environment overrides the stored secret (so it need not be kept in CAIRN_HOME)
        const pass = process.env.CAIRN_SMTP_PASSWORD ?? e.pass;
        const transport = nodemailer.createTransport({ host: e.host, port: e.port, secure: e.secure, ...(e.user ? { auth: { user: e.user, pass } } : {}) });
        await transport.sendMail({ from: e.from, to: e.to, subject: msg.title, text: `${msg.message}\n\n${msg.time}\n` });
        result.sent.push('email');
      } catch (err) {
        result.failed.push({ channel: 'email', error: errorMessage(err) });
      }
    }
    for (const f of result.failed) this.opts.log(`notification (${msg.kind}) by ${f.channel} failed: ${f.error}`);
    this.recent.push({ ...msg, delivered: result.sent, failed: result.failed.map((f) => f.channel) });
    if (this.recent.length > 50) this.recent.shift();
    return result;
  }
}

async function postWebhook(url: string, headers: Record<string, string>, msg: NotificationMessage): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(msg),
    signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
    redirect: 'error',
  });
  await res.arrayBuffer().catch(() => undefined);
  if (!res.ok) throw new Error(`${url} answered HTTP ${res.status}`);
}
