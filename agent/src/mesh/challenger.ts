// Storage challenges, the owner's side (SPEC 13.8): each replication round challenges a few of our
// packs at each connected friend (the rotation, challenge-rotation.ts), and `cairn audit` all of
// them. An answer is checked against our own copy of the pack; without one that is sound (after a
// recovery, or a damaged local copy), against another holder's answer to the same challenge, and
// when they differ or there is none, against the whole pack fetched from a holder (its SHA-256 is
// its name). A wrong, missing or late answer, or "not held", is a failure: recorded first
// (challenge-ledger.ts), then the copy stops counting, so the same round copies the pack again
// (to that friend with a recheck, or another), and the friend's problems name the pack.
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { peerIdFromString } from '@libp2p/peer-id';
import type { AuditFriend } from '../../../protocol/api.js';
import type { ChallengeRequest } from '../../../protocol/mesh.js';
import type { Repository } from '../repo/repository.js';
import { LocalPackStore } from '../store/local-pack-store.js';
import { errorMessage } from '../util/errors.js';
import { mapLimit } from '../util/semaphore.js';
import { askChallenge, ChallengeUnreachableError } from './challenge.js';
import { pickForRound, refill, sampleBytes, sampleRanges, type AuditSettings, type HeldPack } from './challenge-rotation.js';
import type { MeshContext } from './context.js';
import type { CopyMap } from './copies-ledger.js';
import type { Friendship } from './friend-ledger.js';
import { fetchPack } from './pack-get.js';
import { challengeDigest, packIntact } from './pack-digest.js';
import { PackHashMismatchError } from './pack-receive.js';

/** Friends challenged at once. */
const FRIEND_CONCURRENCY = 8;
/** Challenges in flight at one friend. */
const CHALLENGES_PER_FRIEND = 4;

/** The rotation's few packs per connected friend, or every pack at every friend (or one: `peerId`) for `cairn audit`. */
export type ChallengeMode = { kind: 'rotation' } | { kind: 'all'; peerId?: string };

type Verdict = { kind: 'passed' } | { kind: 'failed'; reason: string } | { kind: 'inconclusive'; reason: string } | { kind: 'unreachable'; reason: string };

export class Challenger {
  /** Follows the config (`friends.audit-period`, `friends.audit-share`). */
  settings: AuditSettings;
  private readonly ctx: MeshContext;
  private readonly repo: Repository;
  /** Where a pack fetched to settle a disagreement lands (a directory per challenge), deleted right after. */
  private readonly scratchDir: string;

  constructor(ctx: MeshContext, repo: Repository, settings: AuditSettings) {
    this.ctx = ctx;
    this.repo = repo;
    this.settings = settings;
    this.scratchDir = join(repo.paths.home, 'challenge-scratch');
  }

  /**
   * A failure recorded while its copy still counts (a round killed between the two writes) drops
   * the copy now; a failure at a friend no longer ours is forgotten. Returns whether a copy stopped counting.
   */
  async reconcile(friends: readonly Friendship[], counted: CopyMap): Promise<boolean> {
    const ours = new Set(friends.map((f) => f.peerId));
    let dropped = false;
    for (const f of await this.ctx.challenges.failures()) {
      if (!ours.has(f.peerId)) await this.ctx.challenges.repaired(f.packId, f.peerId);
      else if (counted.byPack.get(f.packId)?.has(f.peerId)) {
        await this.ctx.copies.remove(f.packId, f.peerId);
        dropped = true;
      }
    }
    return dropped;
  }

  /** Failures that no longer put anything at risk (the pack is gone from the index, or has its copies again) are cleared. */
  async clearRepaired(packIds: ReadonlySet<string>, byPack: ReadonlyMap<string, ReadonlySet<string>>, wanted: number): Promise<void> {
    for (const f of await this.ctx.challenges.failures()) {
      const holders = byPack.get(f.packId);
      if (!packIds.has(f.packId) || holders?.has(f.peerId) || (holders?.size ?? 0) >= wanted) await this.ctx.challenges.repaired(f.packId, f.peerId);
    }
  }

  /**
   * Challenges our copies at `friends` as `mode` says. Problems (failures by friend and pack) go to
   * `problems`; returns each friend's report and whether any copy stopped counting.
   */
  async run(friends: readonly Friendship[], counted: CopyMap, mode: ChallengeMode, problems: string[]): Promise<{ reports: AuditFriend[]; lost: boolean }> {
    const at = new Map<string, HeldPack[]>();
    for (const [packId, holders] of counted.byPack) {
      const sizeBytes = counted.sizes.get(packId) ?? 0;
      for (const h of holders) {
        const list = at.get(h);
        if (list) list.push({ id: packId, sizeBytes });
        else at.set(h, [{ id: packId, sizeBytes }]);
      }
    }
    await rm(this.scratchDir, { recursive: true, force: true }); // what a killed round left behind
    const chosen = friends.filter((f) => mode.kind === 'rotation' || mode.peerId === undefined || mode.peerId === f.peerId);
    const reports = await mapLimit(chosen, FRIEND_CONCURRENCY, (f) => this.challengeFriend(f, at.get(f.peerId) ?? [], counted, mode, problems));
    return { reports: reports.filter((r): r is AuditFriend => r !== null), lost: reports.some((r) => (r?.failed.length ?? 0) > 0) };
  }

  private async challengeFriend(f: Friendship, held: HeldPack[], counted: CopyMap, mode: ChallengeMode, problems: string[]): Promise<AuditFriend | null> {
    const report: AuditFriend = { name: f.name, peerId: f.peerId, challenged: 0, passed: 0, failed: [], inconclusive: 0, unreachable: null };
    const peer = peerIdFromString(f.peerId);
    let picks: HeldPack[];
    let budget: { tokens: number; atMs: number } | undefined;
    if (mode.kind === 'rotation') {
      // no dial: an offline friend must not cost a round (repair after a long absence is another matter)
      if (held.length === 0 || this.ctx.node.getConnections(peer).length === 0) return null;
      const maxSample = Math.max(...held.map((p) => sampleBytes(p.sizeBytes, this.settings)));
      const heldBytes = held.reduce((n, p) => n + p.sizeBytes, 0);
      budget = refill(await this.ctx.challenges.budget(f.peerId), this.ctx.clock.now(), heldBytes, maxSample, this.settings);
      picks = pickForRound(held, await this.ctx.challenges.lastPassed(f.peerId), budget.tokens, this.settings);
      if (picks.length === 0) {
        await this.ctx.challenges.setBudget(f.peerId, budget);
        return null;
      }
    } else picks = held;
    const cutOff = new AbortController();
    await mapLimit(picks, CHALLENGES_PER_FRIEND, async (p) => {
      if (cutOff.signal.aborted) return;
      const spent = { bytes: 0 };
      const v = await this.challengeOne(f, p, counted, cutOff.signal, spent);
      if (budget) budget.tokens = Math.max(0, budget.tokens - spent.bytes);
      if (v.kind === 'unreachable') {
        report.unreachable ??= v.reason;
        cutOff.abort(new Error(v.reason));
        return;
      }
      report.challenged += 1;
      if (v.kind === 'passed') {
        report.passed += 1;
        await this.ctx.challenges.passed(f.peerId, p.id, this.ctx.clock.now());
      } else if (v.kind === 'inconclusive') {
        report.inconclusive += 1;
        problems.push(`could not judge ${f.name}'s answer for pack ${p.id.slice(0, 12)}: ${v.reason}`);
      } else {
        report.failed.push({ packId: p.id, reason: v.reason });
        // the record first: killed before the copy stops counting, the next round finds it (reconcile)
        await this.ctx.challenges.failed({ packId: p.id, peerId: f.peerId, atMs: this.ctx.clock.now(), reason: v.reason });
        await this.ctx.copies.remove(p.id, f.peerId);
      }
    });
    if (budget) await this.ctx.challenges.setBudget(f.peerId, budget);
    if (report.failed.length > 0) {
      const first = report.failed[0] as { packId: string; reason: string };
      const msg = `failed storage challenges for ${report.failed.length} of our packs (e.g. ${first.packId.slice(0, 12)}: ${first.reason}): they no longer count as copies there and are copied again`;
      problems.push(`${f.name} ${msg}`);
      await this.ctx.friends.addProblem(f.peerId, msg);
    }
    if (report.unreachable !== null && mode.kind === 'all') problems.push(`${f.name} could not be challenged: ${report.unreachable}`);
    return report;
  }

  /**
   * Challenges our copy of `packId` at `f` once, now (a copy that failed and that the friend says it
   * still holds after a recheck); a pass is recorded, a failure keeps (renews) its failure record.
   */
  async prove(f: Friendship, packId: string, sizeBytes: number): Promise<boolean> {
    const counted: CopyMap = {
      byPack: new Map([[packId, new Set(await this.ctx.copies.holders(packId))]]),
      bytesAt: new Map(),
      packsAt: new Map(),
      sizes: new Map(),
    };
    const v = await this.challengeOne(f, { id: packId, sizeBytes }, counted, new AbortController().signal, { bytes: 0 });
    if (v.kind === 'passed') await this.ctx.challenges.passed(f.peerId, packId, this.ctx.clock.now());
    else if (v.kind === 'failed') await this.ctx.challenges.failed({ packId, peerId: f.peerId, atMs: this.ctx.clock.now(), reason: v.reason });
    return v.kind === 'passed';
  }

  /** One challenge of pack `p` at friend `f`, judged; `spent.bytes` counts what it made friends read. */
  private async challengeOne(f: Friendship, p: HeldPack, counted: CopyMap, signal: AbortSignal, spent: { bytes: number }): Promise<Verdict> {
    const sample = sampleBytes(p.sizeBytes, this.settings);
    const req: ChallengeRequest = { packId: p.id, nonce: randomBytes(32).toString('hex'), ranges: sampleRanges(p.sizeBytes, sample) };
    spent.bytes += sample;
    let digest: string;
    try {
      const a = await askChallenge(this.ctx, peerIdFromString(f.peerId), req, signal);
      if (!a.held) return { kind: 'failed', reason: 'it says it does not hold the pack' };
      digest = a.digest;
    } catch (err) {
      if (err instanceof ChallengeUnreachableError) return { kind: 'unreachable', reason: err.message };
      if (signal.aborted) return { kind: 'unreachable', reason: errorMessage(signal.reason) }; // cut off by us, not answered wrong
      return { kind: 'failed', reason: `no valid answer: ${errorMessage(err)}` };
    }
    return (await this.localVerdict(req, digest)) ?? this.settle(f, p, req, digest, counted, spent);
  }

  /**
   * The verdict our own copy gives, or undefined when it is missing or not sound (then we cannot
   * judge with it). Only the challenged ranges are read when the answer matches them (a fresh nonce:
   * the friend holds those bytes); a mismatch convicts only after our copy proved sound whole.
   */
  private async localVerdict(req: ChallengeRequest, digest: string): Promise<Verdict | undefined> {
    const store = this.repo.store;
    try {
      if (!(await store.stat(req.packId))) return undefined;
      const expected = await challengeDigest(store, req.packId, Buffer.from(req.nonce, 'hex'), req.ranges);
      if (expected === digest) return { kind: 'passed' };
      // a damaged local copy must not convict a friend: our copy is checked whole before we trust it
      return (await packIntact(store, req.packId)) ? { kind: 'failed', reason: 'wrong answer (the bytes there differ from the pack)' } : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Without a sound local copy: another holder giving the same answer settles it; otherwise the
   * whole pack, fetched from a holder and verified by its name, does.
   */
  private async settle(f: Friendship, p: HeldPack, req: ChallengeRequest, digest: string, counted: CopyMap, spent: { bytes: number }): Promise<Verdict> {
    const others = [...(counted.byPack.get(p.id) ?? [])].filter((h) => h !== f.peerId);
    for (const h of others) {
      try {
        const a = await askChallenge(this.ctx, peerIdFromString(h), req);
        if (a.held && a.digest === digest) return { kind: 'passed' };
        break; // they differ (or it lacks the pack): the whole pack decides
      } catch {
        // no answer from that holder: try the next
      }
    }
    const dir = join(this.scratchDir, randomBytes(8).toString('hex'));
    const scratch = new LocalPackStore(dir);
    await scratch.open();
    try {
      for (const h of [...others, f.peerId]) {
        try {
          await fetchPack(this.ctx, peerIdFromString(h), p.id, scratch);
        } catch (err) {
          if (h === f.peerId && err instanceof PackHashMismatchError) return { kind: 'failed', reason: 'it serves bytes that do not hash to the pack ID' };
          continue;
        }
        if (h === f.peerId) spent.bytes += p.sizeBytes;
        const expected = await challengeDigest(scratch, p.id, Buffer.from(req.nonce, 'hex'), req.ranges);
        return expected === digest ? { kind: 'passed' } : { kind: 'failed', reason: 'wrong answer (the bytes there differ from the pack)' };
      }
      return { kind: 'inconclusive', reason: 'no local copy, and no friend served the whole pack to compare with' };
    } finally {
      await scratch.close();
      await rm(dir, { recursive: true, force: true });
    }
  }
}
