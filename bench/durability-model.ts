// The durability model behind `npm run durability` (bench/durability.ts, docs/DURABILITY.md): pure
// compute, no I/O. One owner in a mesh of N friends keeps its latest snapshot (P packs) at the
// other M = N - 1. Each pack is stored either as `replicas` whole copies (k = 1, n = replicas) or
// as a k-of-n erasure code; its n pieces sit at n distinct friends picked uniformly at random.
//
// A friend's copies of our packs are "down" (lost and not yet repaired) for a window after one of
// two events, each a Poisson process per friend:
//   - gone: the friend's disk or machine dies, or the friend leaves for good. Its agent stops
//     answering; after `repair-after` it stops counting and the owner copies its packs elsewhere,
//     which takes (bytes we had there) / (owner's uplink x online share).
//   - silent: the friend keeps answering but its copies of our packs are gone or damaged. Storage
//     challenges find each pack within one audit period; we take the whole period (conservative),
//     then the same copying time.
// A pack is short when at least n - k + 1 of its pieces are down at once; the snapshot is short
// while any of its packs is. Being offline for a while loses nothing (the friend comes back), so
// it only slows repair (the uplink times the online share) and restores (see `restorableNow`).
// The snapshot is lost when the owner's own copy dies (rate `ownerLossPerYear`) while it is short:
// then no repair can run and the restore finds a pack without enough pieces.
//
// Two estimators: a Monte Carlo over years of events (seeded PRNG, importance sampling: event rates
// multiplied by c and each year weighted by its likelihood ratio, so rare coincidences are seen),
// and a stationary Markov approximation (each friend independently down with probability
// pi = sum of rate x window; the snapshot becomes short when one more friend goes down).

export interface Assumptions {
  /** Mesh size N including the owner (its packs go to the other N - 1). */
  friends: number;
  /** Share of the time a friend's agent is online (0..1]. */
  onlineShare: number;
  /** A friend's copies lost for good with its agent gone (disk, machine, the friend leaves), per year. */
  goneLossPerYear: number;
  /** A friend's copies lost while its agent still answers (found by challenges), per year. */
  silentLossPerYear: number;
  /** The owner's own copy lost (its disk or machine), per year. */
  ownerLossPerYear: number;
  /** The owner's upload rate for repairs (bits per second). */
  uplinkBitsPerSec: number;
  /** The snapshot's size: what one member backs up (bytes). */
  dataBytes: number;
  /** Pack size (bytes): the snapshot is dataBytes / packBytes packs. */
  packBytes: number;
  /** `friends.repair-after` (days). */
  repairAfterDays: number;
  /** `friends.audit.period` (days). */
  auditPeriodDays: number;
}

/** How a pack is kept at friends: any k of its n pieces restore it (whole copies: k = 1, n = replicas). */
export interface Scheme {
  label: string;
  k: number;
  n: number;
}

export const replicasScheme = (r: number): Scheme => ({ label: `replicas ${r}`, k: 1, n: r });
export const erasureScheme = (k: number, n: number): Scheme => ({ label: `${k}-of-${n} code`, k, n });

const DAYS_PER_YEAR = 365;
const SECONDS_PER_DAY = 86_400;

/** Numbers derived from the assumptions for one scheme. */
export interface Derived {
  holders: number;
  packs: number;
  /** Pieces down at once that make a pack short: n - k + 1. */
  need: number;
  /** Bytes of ours at one friend, and the days to copy them again. */
  bytesAtFriend: number;
  repairDays: number;
  /** How long a friend's copies stay down after a gone / silent event (days). */
  goneWindowDays: number;
  silentWindowDays: number;
  /** Events per friend per day. */
  ratePerDay: number;
  /** Share of events that are "gone". */
  goneShare: number;
  /** Stationary chance a given friend is down. */
  downShare: number;
}

export class ModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelError';
  }
}

export function derive(a: Assumptions, s: Scheme): Derived {
  const holders = a.friends - 1;
  if (!(s.k >= 1 && s.n >= s.k && Number.isInteger(s.k) && Number.isInteger(s.n))) throw new ModelError(`${s.label}: needs whole numbers 1 <= k <= n`);
  if (s.n > holders) throw new ModelError(`${s.label}: ${s.n} pieces need ${s.n} friends, the mesh of ${a.friends} has ${holders} besides the owner`);
  if (!(a.onlineShare > 0 && a.onlineShare <= 1)) throw new ModelError(`online share ${a.onlineShare} is not in (0, 1]`);
  const packs = Math.max(1, Math.ceil(a.dataBytes / a.packBytes));
  const bytesAtFriend = (a.dataBytes * (s.n / s.k)) / holders;
  const repairDays = bytesAtFriend / ((a.uplinkBitsPerSec / 8) * a.onlineShare) / SECONDS_PER_DAY;
  const goneWindowDays = a.repairAfterDays + repairDays;
  const silentWindowDays = a.auditPeriodDays + repairDays;
  const rate = (a.goneLossPerYear + a.silentLossPerYear) / DAYS_PER_YEAR;
  const goneShare = rate === 0 ? 1 : a.goneLossPerYear / (a.goneLossPerYear + a.silentLossPerYear);
  const downShare = Math.min(1, (a.goneLossPerYear * goneWindowDays + a.silentLossPerYear * silentWindowDays) / DAYS_PER_YEAR);
  return { holders, packs, need: s.n - s.k + 1, bytesAtFriend, repairDays, goneWindowDays, silentWindowDays, ratePerDay: rate, goneShare, downShare };
}

// ---- combinatorics ----------------------------------------------------------------------------

const lnFactCache: number[] = [0];
function lnFact(n: number): number {
  for (let i = lnFactCache.length; i <= n; i++) lnFactCache.push((lnFactCache[i - 1] as number) + Math.log(i));
  return lnFactCache[n] as number;
}
function lnChoose(n: number, k: number): number {
  return k < 0 || k > n ? -Infinity : lnFact(n) - lnFact(k) - lnFact(n - k);
}

/**
 * Chance that one pack, its n pieces at n friends picked uniformly from `holders`, is short when
 * `down` of those friends are down: at least `need` of its pieces among them (hypergeometric tail).
 */
export function packShort(down: number, holders: number, s: Scheme): number {
  const need = s.n - s.k + 1;
  if (down < need) return 0;
  const total = lnChoose(holders, s.n);
  let p = 0;
  for (let j = need; j <= Math.min(down, s.n); j++) p += Math.exp(lnChoose(down, j) + lnChoose(holders - down, s.n - j) - total);
  return Math.min(1, p);
}

/** Chance that a snapshot of `packs` packs (placed independently) has a short pack when `down` friends are down. */
export function snapshotShort(down: number, holders: number, packs: number, s: Scheme): number {
  const q = packShort(down, holders, s);
  if (q === 0) return 0;
  if (q === 1) return 1;
  return -Math.expm1(packs * Math.log1p(-q));
}

// ---- PRNG -------------------------------------------------------------------------------------

/** xoshiro128** seeded by splitmix32: uniform doubles in [0, 1), the same sequence for the same seed. */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    let x = seed >>> 0;
    const next = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  private u32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    this.s0 >>>= 0;
    this.s1 >>>= 0;
    this.s2 >>>= 0;
    this.s3 >>>= 0;
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  next(): number {
    return ((this.u32() >>> 5) * 67_108_864 + (this.u32() >>> 6)) / 9_007_199_254_740_992;
  }

  /** Uniform integer in [0, max). */
  int(max: number): number {
    return Math.floor(this.next() * max);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

// ---- Monte Carlo ------------------------------------------------------------------------------

export interface YearOutcome {
  /** Likelihood ratio of this year under the real rates vs the sampled (inflated) ones. */
  weight: number;
  /** Chance (over pack placement) that the snapshot was short at some moment of the year. */
  short: number;
  /** Expected days of the year the snapshot was short (over pack placement). */
  shortDays: number;
  /** Events sampled (including the warm-up before the year). */
  events: number;
}

/**
 * One year, days [0, 365), with events from a warm-up of one longest window before it (so the year
 * starts in the steady state). Events come at `boost` times the real rate; `weight` corrects for it.
 */
export function simulateYear(rng: Rng, d: Derived, s: Scheme, boost: number): YearOutcome {
  const warm = Math.max(d.goneWindowDays, d.silentWindowDays);
  const span = DAYS_PER_YEAR + warm;
  const realMean = d.ratePerDay * d.holders * span;
  const rate = realMean * boost; // events over the whole span
  const starts: number[] = [];
  const ends: number[] = [];
  const who: number[] = [];
  if (rate > 0)
    for (let t = -Math.log(1 - rng.next()) / rate; t < 1; t += -Math.log(1 - rng.next()) / rate) {
      const at = -warm + t * span;
      starts.push(at);
      ends.push(at + (rng.next() < d.goneShare ? d.goneWindowDays : d.silentWindowDays));
      who.push(rng.int(d.holders));
    }
  const k = starts.length;
  const weight = boost === 1 ? 1 : Math.exp((boost - 1) * realMean - k * Math.log(boost));
  if (k < d.need) return { weight, short: 0, shortDays: 0, events: k };
  // sweep the boundaries in time order; a friend's overlapping windows count once
  const points: { at: number; open: boolean; friend: number }[] = [];
  for (let i = 0; i < k; i++) {
    points.push({ at: starts[i] as number, open: true, friend: who[i] as number });
    points.push({ at: ends[i] as number, open: false, friend: who[i] as number });
  }
  points.sort((x, y) => x.at - y.at || (x.open === y.open ? 0 : x.open ? 1 : -1)); // ends first at a tie
  const open = new Map<number, number>();
  let down = 0;
  let notShort = 1;
  let shortDays = 0;
  for (let i = 0; i < points.length; i++) {
    const p = points[i] as (typeof points)[number];
    const c = open.get(p.friend) ?? 0;
    if (p.open) {
      open.set(p.friend, c + 1);
      if (c === 0) down += 1;
    } else {
      open.set(p.friend, c - 1);
      if (c === 1) down -= 1;
    }
    if (down < d.need) continue;
    const next = points[i + 1];
    const nextAt = next?.at ?? Infinity;
    const from = Math.max(0, p.at);
    const to = Math.min(DAYS_PER_YEAR, nextAt);
    const q = snapshotShort(down, d.holders, d.packs, s);
    if (to > from) shortDays += (to - from) * q;
    // a locally largest down set (a friend just went down, and the next boundary brings one back):
    // counted once for "short at some moment" when it lasts into the year
    if (p.open && c === 0 && (next === undefined || !next.open) && p.at < DAYS_PER_YEAR && nextAt > 0) notShort *= 1 - q;
  }
  return { weight, short: 1 - notShort, shortDays, events: k };
}

export interface Estimate {
  /** Point estimate; null when no trial saw it (then `upper` is a 95% bound). */
  value: number | null;
  /** 95% interval (or one-sided bound when value is null). */
  lower: number;
  upper: number;
}

export interface McResult {
  trials: number;
  boost: number;
  /** Simulated years in which the snapshot was short at some moment (with any weight). */
  hits: number;
  /** The snapshot short at some moment of the year (friends alone could not restore it then). */
  short: Estimate;
  /** The snapshot lost in the year: the owner's copy dies while it is short. */
  lost: Estimate;
  /** Expected days per year the snapshot is short. */
  shortDays: number;
}

/**
 * The boost: a year that loses the snapshot has about `need` events more than a typical one (the
 * background, mean L over the simulated span), so events come at c = 1 + need / L times the real
 * rate (at most 20x): likely enough to meet, with weights that stay near 1.
 */
export function chooseBoost(d: Derived): number {
  const span = DAYS_PER_YEAR + Math.max(d.goneWindowDays, d.silentWindowDays);
  const background = d.ratePerDay * d.holders * span;
  if (background <= 0) return 1;
  return Math.min(20, 1 + d.need / background);
}

export function monteCarlo(a: Assumptions, s: Scheme, trials: number, seed: number, boost?: number): McResult {
  const d = derive(a, s);
  const c = boost ?? chooseBoost(d);
  const rng = new Rng(seed);
  const ownerPerDay = a.ownerLossPerYear / DAYS_PER_YEAR;
  let sumS = 0;
  let sumS2 = 0;
  let sumL = 0;
  let sumL2 = 0;
  let sumDays = 0;
  let hits = 0;
  for (let i = 0; i < trials; i++) {
    const y = simulateYear(rng, d, s, c);
    const xs = y.weight * y.short;
    const xl = y.weight * -Math.expm1(-ownerPerDay * y.shortDays);
    sumS += xs;
    sumS2 += xs * xs;
    sumL += xl;
    sumL2 += xl * xl;
    sumDays += y.weight * y.shortDays;
    if (y.short > 0) hits += 1;
  }
  // with no year short at all, the bound: 3 trials' worth of the largest weight a short year can have
  const maxWeight =
    c === 1 ? 1 : Math.exp((c - 1) * d.ratePerDay * d.holders * (DAYS_PER_YEAR + Math.max(d.goneWindowDays, d.silentWindowDays)) - d.need * Math.log(c));
  const est = (sum: number, sum2: number, perHitMax: number): Estimate => {
    if (hits === 0) return { value: null, lower: 0, upper: Math.min(1, (3 * maxWeight * perHitMax) / trials) };
    const mean = sum / trials;
    const sd = Math.sqrt(Math.max(0, sum2 / trials - mean * mean) / trials);
    return { value: Math.min(1, mean), lower: Math.max(0, mean - 1.96 * sd), upper: Math.min(1, mean + 1.96 * sd) };
  };
  return {
    trials,
    boost: c,
    hits,
    short: est(sumS, sumS2, 1),
    lost: est(sumL, sumL2, -Math.expm1(-ownerPerDay * DAYS_PER_YEAR)),
    shortDays: sumDays / trials,
  };
}

// ---- Markov approximation ---------------------------------------------------------------------

export interface AnalyticResult {
  short: number;
  lost: number;
  /** Stationary share of the time the snapshot is short. */
  shortShare: number;
}

/**
 * Friends down independently with probability pi; the snapshot turns short at rate
 * M x rate x sum_j Binomial(M - 1, pi)(j) x (S(j + 1) - S(j)), S(m) = snapshotShort(m).
 */
export function analytic(a: Assumptions, s: Scheme): AnalyticResult {
  const d = derive(a, s);
  const m = d.holders;
  const pi = d.downShare;
  const binom = (n: number, j: number) =>
    pi === 0 ? (j === 0 ? 1 : 0) : pi === 1 ? (j === n ? 1 : 0) : Math.exp(lnChoose(n, j) + j * Math.log(pi) + (n - j) * Math.log1p(-pi));
  const S: number[] = [];
  for (let j = 0; j <= m; j++) S.push(snapshotShort(j, m, d.packs, s));
  let onset = 0;
  let shortShare = 0;
  for (let j = 0; j <= m; j++) {
    shortShare += binom(m, j) * (S[j] as number);
    if (j < m) onset += binom(m - 1, j) * ((S[j + 1] as number) - (S[j] as number));
  }
  // short at the start of the year, or turning short during it
  const perYear = m * d.ratePerDay * DAYS_PER_YEAR * onset;
  const short = 1 - (1 - shortShare) * Math.exp(-perYear);
  const lost = -Math.expm1(-a.ownerLossPerYear * shortShare);
  return { short, lost, shortShare };
}

/** Share of the packs a restore started at a random moment can fetch at once (k of its n holders online). */
export function restorableNow(a: Assumptions, s: Scheme): number {
  let p = 0;
  for (let j = s.k; j <= s.n; j++) p += Math.exp(lnChoose(s.n, j) + j * Math.log(a.onlineShare) + (s.n - j) * Math.log1p(-Math.min(a.onlineShare, 1 - 1e-15)));
  return a.onlineShare === 1 ? 1 : Math.min(1, p);
}
