import { CairnError, UsageError } from '../../util/errors.js';
import { agentJob, agentOp, configFor, type Context } from '../context.js';
import { formatBytes, formatTime, printJson, reachInWords, table } from '../format.js';
import { parseDuration, parseSize } from '../../util/units.js';
import { ago } from './status.js';

/** --quota, else the config's default grant for friends. */
async function quotaBytes(ctx: Context, quota: string | undefined): Promise<number> {
  return quota !== undefined ? parseSize(quota, '--quota') : (await configFor(ctx)).friends.grantBytes;
}

export async function inviteCommand(ctx: Context, opts: { quota?: string; expires: string }): Promise<void> {
  const args = { quotaBytes: await quotaBytes(ctx, opts.quota), expiresInMs: parseDuration(opts.expires, '--expires') };
  const r = await agentOp(ctx, 'invite', args, 'creating an invite');
  if (ctx.json) return printJson(r);
  process.stdout.write(
    `Invite (offers ${formatBytes(r.quotaBytes)} of space here, valid until ${r.expiresAt}, works once):\n\n  ${r.code}\n\n` +
      `Your friend runs: cairn pair <code> --quota <space they offer you>\n`,
  );
}

export async function pairCommand(ctx: Context, code: string, opts: { quota?: string }): Promise<void> {
  const args = { code, quotaBytes: await quotaBytes(ctx, opts.quota) };
  const r = await agentOp(ctx, 'pair', args, 'pairing');
  if (ctx.json) return printJson(r);
  process.stdout.write(
    `paired with ${r.name} (${r.peerId}): they may store ${formatBytes(r.grantToPeer)} here, we may store ${formatBytes(r.grantFromPeer)} there\n`,
  );
}

export async function peersCommand(ctx: Context): Promise<void> {
  const rows = await agentOp(ctx, 'peers', {}, 'listing friends');
  if (ctx.json) return printJson(rows);
  if (rows.length === 0) return void process.stdout.write('no friends yet: "cairn invite" makes a code for a friend\n');
  const lines = [['Name', 'Online', 'Reach', 'Last seen', 'We hold for them', 'They hold for us', 'Packs', 'Last proved', 'Health', 'PeerId']];
  for (const r of rows) {
    lines.push([
      r.name,
      r.online ? 'yes' : 'no',
      reachInWords(r),
      r.lastSeen ? formatTime(r.lastSeen) : 'never',
      `${formatBytes(r.storedForPeerBytes)} / ${formatBytes(r.grantToPeer)}`,
      `${formatBytes(r.storedAtPeerBytes)} / ${formatBytes(r.grantFromPeer)}`,
      String(r.packsAtPeer),
      r.lastProvedAt ? ago(r.lastProvedAt, ctx.clock.now()) : 'never',
      r.health,
      r.peerId,
    ]);
  }
  process.stdout.write(table(lines) + '\n');
  for (const r of rows) {
    process.stdout.write(`how ${r.name} is reached: ${reachInWords(r)} (${r.reachWhy})\n`);
    if (r.shortfall)
      process.stdout.write(
        `shortfall at ${r.name}: ${r.shortfall}${/grant|quota/i.test(r.shortfall) ? ` (${r.name}'s grant is full: ask ${r.name} for more space or add a friend)` : ''}\n`,
      );
    for (const p of r.problems) process.stdout.write(`problem with ${r.name}: ${p}\n`);
    const relayed = r.relayedForPeer;
    if (relayed.totalBytes > 0)
      process.stdout.write(
        `our relay carried ${formatBytes(relayed.todayBytes)} for ${r.name} today (${formatBytes(relayed.totalBytes)} since the agent started)\n`,
      );
    if (r.awaySince) process.stdout.write(`${r.name} is away (since ${formatTime(r.awaySince)}): its copies count again once they pass a challenge\n`);
    if (r.askFromPeer)
      process.stdout.write(
        `${r.name} asks for ${formatBytes(r.askFromPeer.bytes)} here${r.askFromPeer.note ? ` ("${r.askFromPeer.note}")` : ''}: "cairn grant ${r.name} SIZE" or "cairn grant ${r.name} --refuse"\n`,
      );
    if (r.askToPeer) process.stdout.write(`we asked ${r.name} for ${formatBytes(r.askToPeer.bytes)}${r.askToPeer.refused ? ': refused' : ': waiting'}\n`);
  }
}

export async function replicateCommand(ctx: Context, opts: { wait?: boolean }): Promise<void> {
  const args = { wait: opts.wait === true };
  const r = await agentJob(ctx, 'replicate', args, 'replicate', 'replication');
  if (ctx.json) printJson(r);
  else {
    process.stdout.write(
      `replicated: ${r.pushed} packs pushed (${formatBytes(r.pushedBytes)}); ${r.packs - r.underReplicated} of ${r.packs} packs have ${r.wantedCopies} copies at friends; head seq ${r.headSeq}\n`,
    );
    for (const p of r.problems) process.stdout.write(`problem: ${p}\n`);
  }
  if (args.wait && r.underReplicated > 0) {
    const why = r.wantedCopies === 0 ? 'there are no friends yet' : (r.problems[0] ?? 'friends lack space or are offline');
    throw new CairnError('E_UNDER_REPLICATED', `${r.underReplicated} of ${r.packs} packs still have fewer than ${r.wantedCopies} copies: ${why}`);
  }
}

/** Removes a friend (by name, PeerId or a unique PeerId prefix), saying what happens to the data both ways. */
export async function unpairCommand(ctx: Context, friend: string, opts: { dryRun?: boolean }): Promise<void> {
  const friends = await agentOp(ctx, 'peers', {}, 'removing a friend');
  const matches = friends.filter((f) => f.name === friend || f.peerId === friend || (friend.length >= 8 && f.peerId.startsWith(friend)));
  if (matches.length !== 1) {
    const known = friends.map((f) => f.name).join(', ') || 'none';
    throw new UsageError(
      matches.length === 0 ? `no friend "${friend}" (friends: ${known})` : `"${friend}" names ${matches.length} friends: give the PeerId (cairn peers)`,
      matches.length === 0 ? 'E_NOT_FOUND' : 'E_USAGE',
    );
  }
  const args = { peerId: (matches[0] as (typeof friends)[number]).peerId, dryRun: opts.dryRun === true };
  const r = await agentOp(ctx, 'unpair', args, 'removing a friend');
  if (ctx.json) return printJson(r);
  const what =
    `${r.ourPacksAtThem} of our packs (${formatBytes(r.ourBytesAtThem)}) at ${r.name} no longer count as copies: replication makes new copies at other friends; ` +
    `their ${r.theirPacksHere} packs (${formatBytes(r.theirBytesHere)}) here are deleted`;
  process.stdout.write(r.removed ? `removed ${r.name}: ${what}\n` : `would remove ${r.name} (dry run, nothing changed): ${what}\n`);
}
