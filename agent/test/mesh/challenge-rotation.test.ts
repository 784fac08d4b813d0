// The storage-challenge rotation (mesh/challenge-rotation.ts) simulated over weeks of 15-minute
// replication rounds at one friend: every pack is challenged within the audit period, again and
// again, and no 24 hours of challenges read more than the daily share of what the friend holds
// (plus two samples). Pure arithmetic: the same functions the challenger calls, with a fake clock.
import { describe, expect, it } from 'vitest';
import { MAX_CHALLENGE_BYTES, MAX_CHALLENGE_RANGES } from '../../../protocol/mesh.js';
import type { ChallengeBudget } from '../../src/mesh/challenge-ledger.js';
import { pickForRound, refill, sampleBytes, sampleRanges, type AuditSettings, type HeldPack } from '../../src/mesh/challenge-rotation.js';

const DAY_MS = 86_400_000;
const ROUND_MS = 15 * 60_000;
const MIB = 1024 * 1024;

/** Runs rounds for `days`; returns when each pack was challenged and the bytes read per round. */
function simulate(packs: HeldPack[], s: AuditSettings, days: number, online: (nowMs: number) => boolean = () => true) {
  const last = new Map<string, number>();
  const times = new Map<string, number[]>(packs.map((p) => [p.id, []]));
  const reads: Array<{ atMs: number; bytes: number }> = [];
  const held = packs.reduce((n, p) => n + p.sizeBytes, 0);
  const maxSample = Math.max(...packs.map((p) => sampleBytes(p.sizeBytes, s)));
  let budget: ChallengeBudget | undefined;
  for (let now = 0; now <= days * DAY_MS; now += ROUND_MS) {
    if (!online(now)) {
      reads.push({ atMs: now, bytes: 0 }); // not connected: the round leaves the friend alone
      continue;
    }
    budget = refill(budget, now, held, maxSample, s);
    let bytes = 0;
    for (const p of pickForRound(packs, last, budget.tokens, s)) {
      const cost = sampleBytes(p.sizeBytes, s);
      budget.tokens -= cost;
      bytes += cost;
      last.set(p.id, now);
      times.get(p.id)?.push(now);
    }
    reads.push({ atMs: now, bytes });
  }
  return { times, reads, held, maxSample };
}

function mixedPacks(n: number): HeldPack[] {
  const sizes = [64 * 1024, 300 * 1024, 4 * MIB, 16 * MIB, 16 * MIB, 9 * MIB];
  return Array.from({ length: n }, (_, i) => ({ id: i.toString(16).padStart(64, '0'), sizeBytes: sizes[i % sizes.length] as number }));
}

describe('the challenge rotation', () => {
  /** Bytes read in any 24 hours (a sliding window over the rounds) never exceed `limit`. */
  function expectDailyReadsAtMost(reads: Array<{ bytes: number }>, limit: number): void {
    const roundsPerDay = DAY_MS / ROUND_MS;
    let window = 0;
    for (let i = 0; i < reads.length; i++) {
      window += (reads[i] as { bytes: number }).bytes - (i >= roundsPerDay ? (reads[i - roundsPerDay] as { bytes: number }).bytes : 0);
      expect(window).toBeLessThanOrEqual(limit);
    }
  }

  function expectEveryPackWithin(packs: HeldPack[], times: Map<string, number[]>, periodMs: number, passes: number): void {
    for (const p of packs) {
      const t = times.get(p.id) ?? [];
      expect(t.length, `pack ${p.id} challenged`).toBeGreaterThanOrEqual(passes);
      expect(t[0]).toBeLessThanOrEqual(periodMs);
      for (let i = 1; i < t.length; i++) expect((t[i] as number) - (t[i - 1] as number)).toBeLessThanOrEqual(periodMs);
    }
  }

  it('challenges every pack within the audit period, over and over, and reads at most the daily share in any 24 hours', () => {
    // a small share: samples are not capped at MAX_CHALLENGE_BYTES, so a pass takes nearly the whole period
    const s: AuditSettings = { periodMs: 30 * DAY_MS, dailyShare: 0.002 };
    const packs = mixedPacks(300); // about 2.7 GiB held
    const { times, reads, held, maxSample } = simulate(packs, s, 95);
    expectEveryPackWithin(packs, times, s.periodMs, 3);
    expectDailyReadsAtMost(reads, held * s.dailyShare + 2 * maxSample);
  });

  it('a friend back after days offline is not made to read more than the daily share at once', () => {
    const s: AuditSettings = { periodMs: 30 * DAY_MS, dailyShare: 0.01 };
    const packs = mixedPacks(300);
    const { reads, held, maxSample } = simulate(packs, s, 20, (now) => now < 5 * DAY_MS || now > 9 * DAY_MS);
    expectDailyReadsAtMost(reads, held * s.dailyShare + 2 * maxSample);
  });

  it('a shorter period and a larger share are followed', () => {
    const s: AuditSettings = { periodMs: 7 * DAY_MS, dailyShare: 0.05 };
    const packs = mixedPacks(60);
    const { times, reads, held, maxSample } = simulate(packs, s, 22);
    expectEveryPackWithin(packs, times, s.periodMs, 3);
    expectDailyReadsAtMost(reads, held * s.dailyShare + 2 * maxSample);
  });

  it('samples are bounded: at most MAX_CHALLENGE_BYTES and MAX_CHALLENGE_RANGES ranges, all inside the pack', () => {
    const s: AuditSettings = { periodMs: 30 * DAY_MS, dailyShare: 1 };
    for (const size of [1, 7, 4096, 5000, 64 * 1024, 16 * MIB, 64 * MIB]) {
      const total = sampleBytes(size, s);
      expect(total).toBeLessThanOrEqual(Math.min(size, MAX_CHALLENGE_BYTES));
      const ranges = sampleRanges(size, total);
      expect(ranges.length).toBeLessThanOrEqual(MAX_CHALLENGE_RANGES);
      expect(ranges.reduce((n, r) => n + r.length, 0)).toBe(total);
      for (const r of ranges) {
        expect(r.length).toBeGreaterThan(0);
        expect(r.offset + r.length).toBeLessThanOrEqual(size);
      }
    }
  });
});
