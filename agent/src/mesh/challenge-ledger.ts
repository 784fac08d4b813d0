// The storage-challenge ledger (mesh/challenger.ts): when each of our packs at each friend last
// passed a challenge, the copies that failed one and are not copied again yet, and each friend's
// budget of bytes the rotation may still have it read. LevelDB sublevels `challenged`,
// `challengeFailed` and `challengeBudget` (state/db.ts): a round killed at any point loses nothing,
// the next one reads where it stood.
import type { Sublevels } from '../state/db.js';

type ChallengeSublevels = Pick<Sublevels, 'challenged' | 'challengeFailed' | 'challengeBudget'>;

/** A copy that failed a challenge: it no longer counts, and stays "at risk" until the pack is copied again. */
export interface FailedCopy {
  packId: string;
  peerId: string;
  atMs: number;
  reason: string;
}

/** A friend's challenge budget: bytes it may still be made to read, as of `atMs`. */
export interface ChallengeBudget {
  tokens: number;
  atMs: number;
}

export class ChallengeLedger {
  private readonly s: ChallengeSublevels;

  constructor(state: ChallengeSublevels) {
    this.s = state;
  }

  /** pack ID -> when it last passed a challenge at `peerId` (ms); packs never challenged there are absent. */
  async lastPassed(peerId: string): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for await (const [k, v] of this.s.challenged.iterator({ gte: `${peerId}!`, lt: `${peerId}!~` })) out.set(k.slice(peerId.length + 1), Number(v));
    return out;
  }

  async passed(peerId: string, packId: string, atMs: number): Promise<void> {
    await this.s.challenged.put(`${peerId}!${packId}`, String(atMs));
  }

  /**
   * Records that our copy of `packId` at `peerId` failed. Written before the copy stops counting
   * (copies ledger): a round killed between the two finds the record and drops the copy then.
   */
  async failed(f: FailedCopy): Promise<void> {
    await this.s.challengeFailed.put(`${f.packId}!${f.peerId}`, JSON.stringify({ atMs: f.atMs, reason: f.reason }));
  }

  async failures(): Promise<FailedCopy[]> {
    const out: FailedCopy[] = [];
    for await (const [k, v] of this.s.challengeFailed.iterator()) {
      const [packId, peerId] = k.split('!') as [string, string];
      const { atMs, reason } = JSON.parse(v) as { atMs: number; reason: string };
      out.push({ packId, peerId, atMs, reason });
    }
    return out;
  }

  /** The copy of `packId` at `peerId` is good again (taken anew after a recheck), or no longer needed. */
  async repaired(packId: string, peerId: string): Promise<void> {
    await this.s.challengeFailed.del(`${packId}!${peerId}`);
  }

  async budget(peerId: string): Promise<ChallengeBudget | undefined> {
    const v = await this.s.challengeBudget.get(peerId);
    return v === undefined ? undefined : (JSON.parse(v) as ChallengeBudget);
  }

  async setBudget(peerId: string, b: ChallengeBudget): Promise<void> {
    await this.s.challengeBudget.put(peerId, JSON.stringify(b));
  }

  /** Forgets everything about `peerId` (the friend was removed). */
  async forgetFriend(peerId: string): Promise<void> {
    const passed: string[] = [];
    for await (const k of this.s.challenged.keys({ gte: `${peerId}!`, lt: `${peerId}!~` })) passed.push(k);
    await this.s.challenged.batch(passed.map((key) => ({ type: 'del' as const, key })));
    const failed: string[] = [];
    for await (const k of this.s.challengeFailed.keys()) if (k.endsWith(`!${peerId}`)) failed.push(k);
    await this.s.challengeFailed.batch(failed.map((key) => ({ type: 'del' as const, key })));
    await this.s.challengeBudget.del(peerId);
  }
}
