// `cairn relay`: a friends-only relay for a small rented server (SPEC 13.1, "The relay agent"); no
// repository, no Docker, no passphrase. `cairn relay invite` makes an invite code for a friend
// (quota 0: friends pair with `cairn pair <code> --quota 0`), `cairn relay status` says who it
// serves and what it relayed (--json for a health check), `cairn relay unpair` removes a friend.
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { RelayStatusResult } from '../../../../protocol/api.js';
import type { InviteResult } from '../../../../protocol/api.js';
import { MAX_NAME_CHARS } from '../../../../protocol/mesh.js';
import { MIN_RELAY_RATE_BYTES_PER_SEC } from '../../config/load.js';
import { relayInfoPath } from '../../repo/home.js';
import { RelayDaemon } from '../../relay-daemon.js';
import type { AgentInfo } from '../../repo/home.js';
import { UsageError } from '../../util/errors.js';
import { processAlive } from '../../util/process-alive.js';
import { parseDuration, parseSize } from '../../util/units.js';
import { callOp } from '../agent-client.js';
import { configFor, type Context } from '../context.js';
import { formatBytes, printJson, table } from '../format.js';

export const RELAY_API_DEFAULT = '127.0.0.1:8081';
/** A line about who the relay serves goes to its log this often. */
const RELAY_STATUS_LOG_MS = 60 * 60_000;

export interface RelayCliOptions {
  listen?: string[];
  announce?: string[];
  api?: string;
  name?: string;
  rate?: string;
  daily?: string;
}

function say(line: string): void {
  process.stderr.write(`${new Date().toISOString()} ${line}\n`);
}

function summary(s: RelayStatusResult): string {
  const online = s.friends.filter((f) => f.online).length;
  const today = s.friends.reduce((a, f) => a + f.relayedForPeer.todayBytes, 0);
  return `relay ${s.name}: ${s.friends.length} friends, ${online} connected, ${s.reservations} reservations; relayed ${formatBytes(today)} today`;
}

export async function relayCommand(ctx: Context, opts: RelayCliOptions): Promise<void> {
  const config = await configFor(ctx);
  if (opts.name !== undefined && (opts.name.length === 0 || opts.name.length > MAX_NAME_CHARS || /[\n\r]/.test(opts.name)))
    throw new UsageError(`--name: expected one line of 1 to ${MAX_NAME_CHARS} characters (friends see it)`);
  const api = /^(.+):(\d+)$/.exec(opts.api ?? RELAY_API_DEFAULT);
  if (!api) throw new UsageError(`--api ${opts.api}: expected HOST:PORT, e.g. ${RELAY_API_DEFAULT}`);
  const limits = {
    bytesPerSec: opts.rate !== undefined ? parseSize(opts.rate, '--rate') : config.relay.bytesPerSec,
    bytesPerDay: opts.daily !== undefined ? parseSize(opts.daily, '--daily') : config.relay.bytesPerDay,
  };
  if (limits.bytesPerSec !== 0 && limits.bytesPerSec < MIN_RELAY_RATE_BYTES_PER_SEC)
    throw new UsageError(`--rate: at least ${MIN_RELAY_RATE_BYTES_PER_SEC / 1024}K (or 0, unlimited): friends' pushes through the relay must keep 16 KiB/s`);
  const daemon = await RelayDaemon.start({
    home: ctx.home,
    listen: opts.listen && opts.listen.length > 0 ? opts.listen : config.listen,
    announce: opts.announce && opts.announce.length > 0 ? opts.announce : config.announce,
    name: opts.name ?? config.name ?? hostname().slice(0, MAX_NAME_CHARS),
    apiHost: (api[1] as string).replace(/^\[|\]$/g, ''),
    apiPort: Number(api[2]),
    limits,
    clock: ctx.clock,
    log: say,
  });
  const rate = limits.bytesPerSec > 0 ? `${formatBytes(limits.bytesPerSec)}/s` : 'unlimited';
  const daily = limits.bytesPerDay > 0 ? `${formatBytes(limits.bytesPerDay)} a day` : 'no daily limit';
  say(`relay ${daemon.info.peerId} running; home ${ctx.home}; per friend ${rate}, ${daily}`);
  say(`friends reach it at ${daemon.info.addrs.join(' ') || '(no address: give --listen or --announce)'}`);
  say(summary(await daemon.relay.status()));
  say(`invite a friend with "cairn relay invite" (they run "cairn pair <code> --quota 0"); stop with Ctrl-C`);
  const timer = setInterval(
    () =>
      void daemon.relay.status().then(
        (s) => say(summary(s)),
        () => undefined,
      ),
    RELAY_STATUS_LOG_MS,
  );
  timer.unref();
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      clearInterval(timer);
      say(`${sig}: stopping`);
      daemon.stop().then(resolve, (err: unknown) => {
        say(`stop failed: ${(err as Error).message}`);
        resolve();
      });
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}

/** The running relay of this home (relay.json, its process alive). */
async function runningRelay(home: string): Promise<AgentInfo> {
  let info: AgentInfo | undefined;
  try {
    info = JSON.parse(await readFile(relayInfoPath(home), 'utf8')) as AgentInfo;
  } catch {
    info = undefined;
  }
  if (!info || typeof info.pid !== 'number' || !processAlive(info.pid))
    throw new UsageError(`no relay is running for ${home}: start it with "cairn relay" (same --home or CAIRN_HOME)`, 'E_NO_AGENT');
  return info;
}

export async function relayInviteCommand(ctx: Context, opts: { expires: string }): Promise<void> {
  const r = await callOp<InviteResult>(await runningRelay(ctx.home), 'relay-invite', { expiresInMs: parseDuration(opts.expires, '--expires') });
  if (ctx.json) return printJson(r);
  process.stdout.write(
    `Relay invite (valid until ${r.expiresAt}, works once; the relay stores nothing):\n\n  ${r.code}\n\n` + `Your friend runs: cairn pair <code> --quota 0\n`,
  );
}

export async function relayStatusCommand(ctx: Context): Promise<void> {
  const s = await callOp<RelayStatusResult>(await runningRelay(ctx.home), 'relay-status', {});
  if (ctx.json) return printJson(s);
  const lines = [summary(s), `peer ID ${s.peerId}; friends reach it at ${s.addrs.join(' ') || '(no address)'}`];
  if (s.friends.length > 0) {
    const rows = [['Friend', 'Connected', 'Reservation', 'Relayed today', 'Since start', 'PeerId']];
    for (const f of s.friends)
      rows.push([
        f.name,
        f.online ? 'yes' : 'no',
        f.reserved ? 'yes' : 'no',
        formatBytes(f.relayedForPeer.todayBytes),
        formatBytes(f.relayedForPeer.totalBytes),
        f.peerId,
      ]);
    lines.push(table(rows));
  } else lines.push('no friends yet: "cairn relay invite" makes a code for one');
  process.stdout.write(lines.join('\n') + '\n');
}

export async function relayUnpairCommand(ctx: Context, friend: string): Promise<void> {
  const r = await callOp<{ name: string; peerId: string }>(await runningRelay(ctx.home), 'relay-unpair', { friend });
  if (ctx.json) return printJson(r);
  process.stdout.write(`removed ${r.name} (${r.peerId}): the relay no longer serves it\n`);
}
