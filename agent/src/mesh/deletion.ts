// The deletion service, both ways. Ours at friends: the delete requests prune (or the audit)
// queued go out (pack-delete.ts), each signed with a new sequence number. Theirs here: with a
// sweep log (the running agent), friends' packs whose deletion grace has passed are deleted at
// start and every DELETION_SWEEP_MS until stop.
import { peerIdFromString } from '@libp2p/peer-id';
import type { PruneResult } from '../../../protocol/api.js';
import { MAX_DELETE_PACKS } from '../../../protocol/mesh.js';
import { errorMessage } from '../util/errors.js';
import type { MeshContext } from './context.js';
import { applyDueDeletions, requestDeletes } from './pack-delete.js';
import type { Startable } from './service.js';

/** How often due deletions of friends' packs are looked for. */
export const DELETION_SWEEP_MS = 5000;

export class Deletion implements Startable {
  private readonly ctx: MeshContext;
  private readonly sweepLog: ((line: string) => void) | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  /** The sending under way: prune and a replication round may both ask at once, and one sends after the other. */
  private sending: Promise<unknown> = Promise.resolve();

  /** With `sweepLog`, due deletions are swept from start to stop, each outcome logged there. */
  constructor(ctx: MeshContext, sweepLog?: (line: string) => void) {
    this.ctx = ctx;
    this.sweepLog = sweepLog;
  }

  async start(): Promise<void> {
    const log = this.sweepLog;
    if (!log) return;
    // friends' packs they asked us to delete go once their grace has passed (checked now and every few seconds)
    const sweep = () =>
      void this.applyDueDeletions().then(
        (n) => n > 0 && log(`deleted ${n} packs friends asked us to delete (their grace has passed)`),
        (err: unknown) => log(`deleting friends' packs failed: ${errorMessage(err)}`),
      );
    sweep();
    this.sweeper = setInterval(sweep, DELETION_SWEEP_MS);
    this.sweeper.unref();
  }

  async stop(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  /** Deletes friends' packs whose deletion grace has passed. */
  async applyDueDeletions(): Promise<number> {
    return applyDueDeletions(this.ctx);
  }

  /**
   * Sends each friend the delete requests queued by prune; per friend what happened. One sending at
   * a time: two at once would both read the outbox and send the same packs twice, the second
   * possibly with the same sequence number (refused as a replay, and reported as not sent).
   */
  async sendDeletes(): Promise<PruneResult['deleteRequests']> {
    const run = this.sending.then(() => this.sendQueued());
    this.sending = run.catch(() => undefined);
    return run;
  }

  private async sendQueued(): Promise<PruneResult['deleteRequests']> {
    const { friends, deletes } = this.ctx;
    const out: PruneResult['deleteRequests'] = [];
    for (const [peerId, packs] of await deletes.outbox()) {
      const friend = await friends.get(peerId);
      const name = friend?.name ?? peerId;
      const ids = [...packs.keys()];
      const bytes = [...packs.values()].reduce((a, b) => a + b, 0);
      if (!friend) {
        await deletes.deletesAccepted(peerId, ids); // no longer a friend: nothing to ask
        continue;
      }
      try {
        let due = '';
        for (let i = 0; i < ids.length; i += MAX_DELETE_PACKS) {
          const seq = await deletes.nextSeq(this.ctx.clock.now());
          const chunk = ids.slice(i, i + MAX_DELETE_PACKS);
          const r = await requestDeletes(this.ctx, peerIdFromString(peerId), chunk, seq);
          await deletes.deletesAccepted(peerId, chunk);
          due = r.dueAt;
        }
        out.push({ friend: name, packs: ids.length, bytes, sent: true, detail: `deleted there after ${due}` });
      } catch (err) {
        out.push({ friend: name, packs: ids.length, bytes, sent: false, detail: `${errorMessage(err)} (sent again at the next replication)` });
      }
    }
    return out;
  }
}
