// The deletes ledger, both ways. Ours at friends: the outbox of delete requests prune (or the
// audit) queued, when each was asked, and the sequence number of our requests. Theirs here: the
// packs friends asked us to delete, pending until their grace has passed. LevelDB sublevels
// `deleteOutbox`, `deleteAsked`, `deletions` and meta's `deleteSeq` (state/db.ts).
import type { StateOp, Sublevels } from '../state/db.js';
import type { OurCopies } from './copies-ledger.js';

type DeleteSublevels = Pick<Sublevels, 'deleteOutbox' | 'deleteAsked' | 'deletions' | 'meta'>;

export class Deletes {
  private readonly s: DeleteSublevels;
  private readonly copies: OurCopies;

  constructor(state: DeleteSublevels, copies: OurCopies) {
    this.s = state;
    this.copies = copies;
  }

  // ---- ours at friends (the outbox)

  /**
   * The writes that queue a delete request to every friend holding one of `packIds` (prune puts
   * them in the same synced batch as the index change that drops the packs).
   */
  async deleteRequestOps(packIds: string[], nowMs: number): Promise<StateOp[]> {
    const ops: StateOp[] = [];
    for (const packId of packIds) {
      for (const { peerId, size } of await this.copies.copiesOf(packId)) {
        const key = `${peerId}!${packId}`;
        ops.push({ type: 'put', sublevel: this.s.deleteOutbox, key, value: size });
        ops.push({ type: 'put', sublevel: this.s.deleteAsked, key, value: String(nowMs) });
      }
    }
    return ops;
  }

  /** Queues delete requests to `peerId` for packs (ID -> size) it holds that we no longer index (the audit). */
  async queueDeletesAt(peerId: string, packs: Map<string, number>, nowMs: number): Promise<void> {
    if (packs.size === 0) return;
    await this.s.deleteOutbox.batch([...packs].map(([packId, size]) => ({ type: 'put' as const, key: `${peerId}!${packId}`, value: String(size) })));
    await this.s.deleteAsked.batch([...packs.keys()].map((packId) => ({ type: 'put' as const, key: `${peerId}!${packId}`, value: String(nowMs) })));
  }

  /** A delete request queued for `packId` at `peerId` and not sent yet is called off (the copy is wanted again). */
  async unqueue(peerId: string, packId: string): Promise<void> {
    const key = `${peerId}!${packId}`;
    if ((await this.s.deleteOutbox.get(key)) === undefined) return;
    await this.s.deleteOutbox.del(key);
    await this.s.deleteAsked.del(key);
  }

  /** Pack ID -> when we last queued a delete request for it at `peerId` (ms). */
  async deletesAsked(peerId: string): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for await (const [k, v] of this.s.deleteAsked.iterator({ gt: `${peerId}!`, lt: `${peerId}!~` })) out.set(k.slice(peerId.length + 1), Number(v));
    return out;
  }

  /** Forgets that we asked `peerId` to delete `packIds` (it no longer lists them). */
  async forgetDeletesAsked(peerId: string, packIds: string[]): Promise<void> {
    await this.s.deleteAsked.batch(packIds.map((p) => ({ type: 'del' as const, key: `${peerId}!${p}` })));
  }

  /** friend -> packs (and sizes) we still have to ask it to delete. */
  async outbox(): Promise<Map<string, Map<string, number>>> {
    const out = new Map<string, Map<string, number>>();
    for await (const [k, v] of this.s.deleteOutbox.iterator()) {
      const [peerId, packId] = k.split('!') as [string, string];
      let m = out.get(peerId);
      if (!m) out.set(peerId, (m = new Map()));
      m.set(packId, Number(v));
    }
    return out;
  }

  /** The friend took our delete request: the packs leave the outbox and no longer count as its copies. */
  async deletesAccepted(peerId: string, packIds: string[]): Promise<void> {
    await this.s.deleteOutbox.batch(packIds.map((p) => ({ type: 'del' as const, key: `${peerId}!${p}` })));
    await this.copies.removeAt(peerId, packIds);
  }

  /**
   * The sequence number of our next delete request, stored before it is used. Time-based: a
   * recovered home (whose counter restarts) still sends numbers newer than its friends have seen.
   */
  async nextSeq(nowMs: number): Promise<number> {
    const stored = Number((await this.s.meta.get('deleteSeq')) ?? 0);
    const seq = Math.max(stored + 1, nowMs);
    await this.s.meta.put('deleteSeq', String(seq));
    return seq;
  }

  // ---- theirs here (pending until the grace has passed)

  /**
   * Records packs an owner asked us to delete, due at `dueMs`. A pack already pending keeps its
   * due time: an owner asks again for packs we still list during the grace (its audit, section 16),
   * and a repeated request must not postpone the deletion for ever.
   */
  async addPendingDeletions(owner: string, packIds: string[], dueMs: number, seq: number): Promise<void> {
    const ops: Array<{ type: 'put'; key: string; value: string }> = [];
    for (const p of new Set(packIds)) {
      const key = `${owner}!${p}`;
      const prev = await this.s.deletions.get(key);
      const due = prev === undefined ? dueMs : Math.min(dueMs, (JSON.parse(prev) as { dueMs: number }).dueMs);
      ops.push({ type: 'put', key, value: JSON.stringify({ dueMs: due, seq }) });
    }
    await this.s.deletions.batch(ops);
  }

  /** A pack pushed again while its deletion was pending stays (the owner wants it after all). */
  async cancelDeletion(owner: string, packId: string): Promise<void> {
    await this.s.deletions.del(`${owner}!${packId}`);
  }

  async pendingDeletions(): Promise<Array<{ owner: string; packId: string; dueMs: number }>> {
    const out: Array<{ owner: string; packId: string; dueMs: number }> = [];
    for await (const [k, v] of this.s.deletions.iterator()) {
      const [owner, packId] = k.split('!') as [string, string];
      out.push({ owner, packId, dueMs: (JSON.parse(v) as { dueMs: number }).dueMs });
    }
    return out;
  }

  async deletionDone(owner: string, packId: string): Promise<void> {
    await this.s.deletions.del(`${owner}!${packId}`);
  }
}
