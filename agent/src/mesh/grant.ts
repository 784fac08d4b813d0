// /cairn/grant/1.0.0 (SPEC 13.10): grants change after pairing. `cairn grant` changes what we let a
// friend store here and tells it (`grant`); `cairn ask` asks a friend for more space there (`ask`,
// one pending per friend, shown on its side until it grants or refuses); a refusal is told back
// (`refuse`). Messages wait in the friendship's outbox (one per kind, the latest) until the friend
// takes one: sent at once when it can be reached, else by the next replication round that reaches it.
// A friend's grant that shrinks below what it holds of ours feeds the repair (repair.ts): the
// packs beyond it are copied elsewhere and released there.
import { peerIdFromString } from '@libp2p/peer-id';
import type { Connection, Stream } from '@libp2p/interface';
import { formatBytes } from '../../../protocol/format.js';
import {
  GRANT_MESSAGE_BURST,
  GRANT_MESSAGE_INTERVAL_MS,
  MAX_ASK_NOTE_CHARS,
  MAX_MESSAGE_BYTES,
  parseGrantMessage,
  PROTOCOLS,
  WireError,
  type GrantMessage,
} from '../../../protocol/mesh.js';
import { errorMessage } from '../util/errors.js';
import { EventAllowance } from '../util/rate-limit.js';
import { mapLimit } from '../util/semaphore.js';
import { untrustedText } from '../util/untrusted-text.js';
import { limitsOf, requireFriend, type MeshContext } from './context.js';
import { Deadline, openStream, transferDeadlineMs } from './deadline.js';
import type { Friendship } from './friend-ledger.js';
import { exchange, RefusedError, serve } from './framing.js';
import { ProtocolService, type Startable } from './service.js';

/** Friends sent their waiting grant messages at once. */
const FRIEND_CONCURRENCY = 8;

export function grantService(ctx: MeshContext): Startable {
  return new ProtocolService(ctx.node, PROTOCOLS.grant, grantHandler(ctx));
}

/** What a friend's message changes in our friendship with it. */
export function applyGrantMessage(f: Friendship, m: GrantMessage, nowIso: string): void {
  if (m.op === 'grant') {
    f.grantFromPeer = m.bytes;
    f.shortfall = null; // judged again by the next round against the new grant
    if (f.askToPeer && m.bytes >= f.askToPeer.bytes) delete f.askToPeer; // what we asked for, or more
  } else if (m.op === 'ask') {
    // one pending ask per friend: a new one replaces the last
    f.askFromPeer = { bytes: m.bytes, note: m.note === undefined ? null : untrustedText(m.note, MAX_ASK_NOTE_CHARS) || null, at: nowIso };
  } else if (f.askToPeer && f.askToPeer.bytes === m.bytes) {
    f.askToPeer = { ...f.askToPeer, refused: true };
    f.problems = [...f.problems, `refused our request for ${formatBytes(m.bytes)}`];
  }
}

/** Friends whose allowance is remembered; one back at a full burst is forgotten first. */
const MAX_TRACKED_ALLOWANCES = 256;

export function grantHandler(ctx: MeshContext, rate = { burst: GRANT_MESSAGE_BURST, intervalMs: GRANT_MESSAGE_INTERVAL_MS }) {
  const limits = limitsOf(ctx);
  const allowances = new Map<string, EventAllowance>();
  const allow = (peerId: string): boolean => {
    let a = allowances.get(peerId);
    if (!a) {
      if (allowances.size >= MAX_TRACKED_ALLOWANCES) for (const [k, v] of allowances) if (v.full()) allowances.delete(k);
      allowances.set(peerId, (a = new EventAllowance(rate.burst, rate.intervalMs, ctx.clock)));
    }
    return a.tryTake();
  };
  return async (stream: Stream, connection: Connection) =>
    serve(
      stream,
      async (f) => {
        await requireFriend(ctx, connection);
        f.setDeadline(new Deadline(transferDeadlineMs(2 * MAX_MESSAGE_BYTES, limits), 'a grant message'));
        const m = parseGrantMessage(await f.readJson());
        // each message rewrites the friendship: a friend gets a few at once, then one a minute
        if (!allow(connection.remotePeer.toString()))
          throw new RefusedError(WireError.rateLimited, `too many grant messages: at most ${rate.burst} at once, then one every ${rate.intervalMs / 1000} s`);
        await ctx.friends.update(connection.remotePeer.toString(), (x) => applyGrantMessage(x, m, new Date(ctx.clock.now()).toISOString()));
        await f.writeJson({ ok: true });
      },
      { frameTimeoutMs: limits.frameTimeoutMs },
    );
}

async function sendGrantMessage(ctx: MeshContext, peerId: string, m: GrantMessage): Promise<void> {
  const limits = limitsOf(ctx);
  const deadline = new Deadline(transferDeadlineMs(2 * MAX_MESSAGE_BYTES, limits), `a ${m.op} message`);
  try {
    const stream = await openStream(ctx.node, peerIdFromString(peerId), PROTOCOLS.grant, limits, deadline);
    await exchange(stream, { frameTimeoutMs: limits.frameTimeoutMs, deadline }, async (f) => {
      await f.writeJson(m);
      await f.readReply<{ ok: true }>();
    });
  } finally {
    deadline.dispose();
  }
}

/** Queues `m` for friend `peerId` (replacing a waiting one of its kind) and tries to send it now; whether the friend took it. */
export async function queueGrantMessage(ctx: MeshContext, peerId: string, m: GrantMessage, change: (f: Friendship) => void): Promise<boolean> {
  await ctx.friends.update(peerId, (x) => {
    change(x);
    x.grantOutbox = { ...x.grantOutbox, [m.op]: m };
  });
  const f = await ctx.friends.get(peerId);
  return f ? (await deliverGrantMessages(ctx, [f])).has(peerId) : false;
}

/**
 * Sends each friend's waiting grant messages (the replication round calls this for every friend
 * not marked away); a message leaves the outbox once taken, unless a newer one replaced it
 * meanwhile. Returns the friends that took all of theirs; failures go to `problems`.
 */
export async function deliverGrantMessages(ctx: MeshContext, friends: readonly Friendship[], problems: string[] = []): Promise<Set<string>> {
  const done = new Set<string>();
  await mapLimit(
    friends.filter((f) => f.grantOutbox !== undefined && Object.keys(f.grantOutbox).length > 0),
    FRIEND_CONCURRENCY,
    async (f) => {
      for (const m of Object.values(f.grantOutbox ?? {})) {
        try {
          await sendGrantMessage(ctx, f.peerId, m);
        } catch (err) {
          problems.push(`${f.name} did not take our ${m.op} message (${formatBytes(m.bytes)}; sent again at the next replication): ${errorMessage(err)}`);
          return;
        }
        await ctx.friends.update(f.peerId, (x) => {
          if (x.grantOutbox && JSON.stringify(x.grantOutbox[m.op]) === JSON.stringify(m)) delete x.grantOutbox[m.op];
        });
      }
      done.add(f.peerId);
    },
  );
  return done;
}
