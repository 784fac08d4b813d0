// Which of our packs at a friend a replication round challenges, and how much of each: the
// rotation (SPEC 13.8). A per-friend budget of bytes refills at 24/25 of `dailyShare` of what the
// friend holds per day and keeps at most 1/25 of a day's share (or two of the largest sample, when that is
// more), so any 24 hours read at most the share (plus two samples); it starts empty. Challenges go
// oldest-challenged first (never challenged before all others) as long as the budget pays. Each
// pack is sampled in proportion to its size, 0.9 x share x (days in the audit period) of it, so
// one pass over everything a friend holds fits the audit period (at most MAX_CHALLENGE_BYTES a pack;
// at least a 4 KiB block, which can stretch the pass for a friend holding many packs under 14 KiB).
import { randomInt } from 'node:crypto';
import { MAX_CHALLENGE_BYTES, MAX_CHALLENGE_RANGES } from '../../../protocol/mesh.js';
import type { ChallengeBudget } from './challenge-ledger.js';
import type { ByteRange } from './pack-digest.js';

export interface AuditSettings {
  /** Every pack at every friend is challenged at least once in this long (ms). */
  periodMs: number;
  /** Most of what a friend holds that a day's challenges read there (0 < share <= 1). */
  dailyShare: number;
}

const DAY_MS = 86_400_000;
/** The budget refills at this fraction of the daily share; the rest is the most it keeps (a burst). */
const REFILL_FRACTION = 24 / 25;
/** A pack's sample is this fraction of share x period: a pass then takes 0.9 x 25/24 of the period, slack for rounding and small packs. */
const SAMPLE_FRACTION = 0.9;
/** Least a challenge reads of a pack (one disk block), or the whole pack when smaller. */
export const MIN_CHALLENGE_SAMPLE_BYTES = 4096;
/** Most packs challenged at one friend in one replication round (a round also pushes and lists). */
export const MAX_CHALLENGES_PER_FRIEND_PER_ROUND = 64;

/** Bytes a challenge reads of a pack of `sizeBytes`. */
export function sampleBytes(sizeBytes: number, s: AuditSettings): number {
  const periodDays = s.periodMs / DAY_MS;
  const share = Math.floor(sizeBytes * s.dailyShare * periodDays * SAMPLE_FRACTION);
  return Math.min(sizeBytes, MAX_CHALLENGE_BYTES, Math.max(MIN_CHALLENGE_SAMPLE_BYTES, share));
}

/** `total` bytes of a pack of `sizeBytes` as up to MAX_CHALLENGE_RANGES ranges of about equal length at random offsets. */
export function sampleRanges(sizeBytes: number, total: number, rand: (max: number) => number = (max) => randomInt(max)): ByteRange[] {
  const n = Math.max(1, Math.min(MAX_CHALLENGE_RANGES, total));
  const out: ByteRange[] = [];
  for (let i = 0; i < n; i++) {
    const length = Math.floor(total / n) + (i < total % n ? 1 : 0);
    out.push({ offset: rand(sizeBytes - length + 1), length });
  }
  return out;
}

/**
 * The budget at `nowMs` of a friend holding `heldBytes` of ours, whose largest sample is
 * `maxSampleBytes`: what was left plus the refill since, at most the cap; a friend new to challenges starts empty.
 */
export function refill(prev: ChallengeBudget | undefined, nowMs: number, heldBytes: number, maxSampleBytes: number, s: AuditSettings): ChallengeBudget {
  const perDay = heldBytes * s.dailyShare;
  // two samples: with one, a round that comes after the budget reached a large sample's cost would
  // waste its refill, and a pass of large samples (few packs) could outlast the period
  const cap = Math.max(perDay * (1 - REFILL_FRACTION), 2 * maxSampleBytes);
  if (!prev) return { tokens: 0, atMs: nowMs };
  const elapsed = Math.max(0, nowMs - prev.atMs);
  return { tokens: Math.min(cap, prev.tokens + (perDay * REFILL_FRACTION * elapsed) / DAY_MS), atMs: nowMs };
}

export interface HeldPack {
  id: string;
  sizeBytes: number;
}

/**
 * The packs to challenge this round: those never challenged first, then the longest ago, as long as
 * the budget pays for their samples (at most MAX_CHALLENGES_PER_FRIEND_PER_ROUND).
 */
export function pickForRound(packs: readonly HeldPack[], lastPassed: ReadonlyMap<string, number>, tokens: number, s: AuditSettings): HeldPack[] {
  const order = [...packs].sort((a, b) => (lastPassed.get(a.id) ?? -1) - (lastPassed.get(b.id) ?? -1) || (a.id < b.id ? -1 : 1));
  const out: HeldPack[] = [];
  let left = tokens;
  for (const p of order) {
    if (out.length === MAX_CHALLENGES_PER_FRIEND_PER_ROUND) break;
    const cost = sampleBytes(p.sizeBytes, s);
    if (cost > left) break; // oldest first: a later pack must not jump the queue
    left -= cost;
    out.push(p);
  }
  return out;
}
