// The durability model behind `npm run durability` (bench/durability-model.ts, docs/DURABILITY.md):
// the same seed gives the same numbers; a two-friend mesh with replicas 2 matches its closed form,
// both sampled plainly and importance-sampled (so the weights are right); the loss falls with more
// replicas and rises with the loss rate; a loss no simulated year saw is a bound, never a 0.
import { describe, expect, it } from 'vitest';
import {
  analytic,
  derive,
  erasureScheme,
  monteCarlo,
  packShort,
  replicasScheme,
  restorableNow,
  Rng,
  ModelError,
  type Assumptions,
} from '../../../bench/durability-model.js';
import { BASE, fmtEstimate, mergeTables, report, DURABILITY_BEGIN, DURABILITY_END } from '../../../bench/durability.js';

const YEAR_DAYS = 365;

describe('durability model', () => {
  it('the PRNG gives the same sequence for a seed, another for another seed, all in [0, 1)', () => {
    const draw = (seed: number) => {
      const r = new Rng(seed);
      return Array.from({ length: 1000 }, () => r.next());
    };
    const a = draw(42);
    expect(draw(42)).toEqual(a);
    expect(draw(43)).not.toEqual(a);
    expect(a.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = a.reduce((s, x) => s + x, 0) / a.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.05);
  });

  it('a simulation is deterministic for a seed', () => {
    const a: Assumptions = { ...BASE, friends: 30 };
    const s = replicasScheme(2);
    expect(monteCarlo(a, s, 300, 7)).toEqual(monteCarlo(a, s, 300, 7));
    expect(monteCarlo(a, s, 300, 7)).not.toEqual(monteCarlo(a, s, 300, 8));
  });

  it('counts the packs a down set makes short as the hypergeometric tail', () => {
    expect(packShort(2, 9, replicasScheme(2))).toBeCloseTo(1 / 36, 12); // one pair of C(9, 2)
    expect(packShort(1, 9, replicasScheme(2))).toBe(0);
    expect(packShort(9, 9, replicasScheme(3))).toBe(1);
    // 4-of-8 over 9 friends with 5 down: the 8 pieces miss one friend; short when 5 pieces are down,
    // i.e. unless the missed friend is one of the 5
    expect(packShort(5, 9, erasureScheme(4, 8))).toBeCloseTo(4 / 9, 12);
  });

  // Two friends, each pack at both: the snapshot is short while both are down. A friend is down
  // for W days after each event (rate lambda): in the steady state pi = 1 - exp(-lambda W), and
  // the two are independent, so the expected days short in a year are exactly 365 pi^2. The chance
  // the year goes short at all is about 1 - (1 - pi^2) exp(-2 lambda pi (1 - pi) 365) (starts
  // short, or an onset), a little more than the truth: onsets come in clusters, not as a Poisson
  // process.
  const twoFriends: Assumptions = {
    ...BASE,
    friends: 3,
    goneLossPerYear: 1,
    silentLossPerYear: 0,
    ownerLossPerYear: 0.5,
    uplinkBitsPerSec: 1e15, // repair takes no time: the window is repair-after alone
    repairAfterDays: 0.05 * YEAR_DAYS,
    dataBytes: 1e9,
  };
  const lambdaPerDay = 1 / YEAR_DAYS;
  const pi = 1 - Math.exp(-lambdaPerDay * twoFriends.repairAfterDays);
  const closedShortDays = YEAR_DAYS * pi * pi;
  const approxShort = 1 - (1 - pi * pi) * Math.exp(-2 * lambdaPerDay * pi * (1 - pi) * YEAR_DAYS);

  it('two friends, replicas 2: the plain simulation matches the closed form', () => {
    const mc = monteCarlo(twoFriends, replicasScheme(2), 20_000, 1, 1);
    expect(mc.boost).toBe(1);
    expect(Math.abs(mc.shortDays / closedShortDays - 1)).toBeLessThan(0.05);
    const short = mc.short.value as number;
    expect(short).toBeLessThan(approxShort * 1.02);
    expect(short).toBeGreaterThan(approxShort * 0.85);
  });

  it('two friends, replicas 2: the importance-sampled simulation (boosted rates, weighted years) matches it too', () => {
    const mc = monteCarlo(twoFriends, replicasScheme(2), 20_000, 2, 3);
    expect(mc.boost).toBe(3);
    expect(Math.abs(mc.shortDays / closedShortDays - 1)).toBeLessThan(0.1);
    const short = mc.short.value as number;
    expect(short).toBeLessThan(approxShort * 1.05);
    expect(short).toBeGreaterThan(approxShort * 0.85);
    // the Markov approximation: the same steady state with pi = lambda W
    expect(Math.abs((analytic(twoFriends, replicasScheme(2)).shortShare * YEAR_DAYS) / closedShortDays - 1)).toBeLessThan(0.06);
  });

  it('the loss falls with more replicas and rises with the loss rate', () => {
    const a: Assumptions = { ...BASE, friends: 30, goneLossPerYear: 0.2, silentLossPerYear: 0.05 };
    const lost = (x: Assumptions, r: number) => monteCarlo(x, replicasScheme(r), 3000, 11).lost.value as number;
    const two = lost(a, 2);
    const three = lost(a, 3);
    expect(two).toBeGreaterThan(0);
    expect(three).toBeGreaterThan(0);
    expect(three).toBeLessThan(two / 5);
    expect(lost({ ...a, goneLossPerYear: 0.05, silentLossPerYear: 0.01 }, 2)).toBeLessThan(two / 5);
    expect(analytic(a, replicasScheme(3)).lost).toBeLessThan(analytic(a, replicasScheme(2)).lost);
    expect(analytic({ ...a, repairAfterDays: 60 }, replicasScheme(2)).lost).toBeGreaterThan(analytic(a, replicasScheme(2)).lost);
  });

  it('a loss no simulated year saw is reported as a 95% upper bound, not as 0', () => {
    const a: Assumptions = { ...BASE, friends: 10, goneLossPerYear: 1e-6, silentLossPerYear: 0 };
    const mc = monteCarlo(a, replicasScheme(3), 200, 3, 1);
    expect(mc.hits).toBe(0);
    expect(mc.lost.value).toBeNull();
    expect(mc.lost.upper).toBeGreaterThan(0);
    expect(fmtEstimate(mc.lost, mc.hits)).toMatch(/^< \d/);
  });

  it('refuses a code wider than the mesh, and counts restorable packs from the online share', () => {
    expect(() => derive({ ...BASE, friends: 5 }, replicasScheme(5))).toThrow(ModelError);
    expect(restorableNow({ ...BASE, onlineShare: 0.5 }, replicasScheme(2))).toBeCloseTo(0.75, 12);
    expect(restorableNow({ ...BASE, onlineShare: 1 }, erasureScheme(4, 8))).toBe(1);
  });

  it('the tables are the same for a seed and cover meshes of 10 to 1,000 with every scheme that fits', () => {
    const a = report({ trials: 30, seed: 5 });
    expect(report({ trials: 30, seed: 5 })).toBe(a);
    for (const n of [10, 30, 100, 300, 1000])
      for (const s of ['replicas 2', 'replicas 3', '4-of-8 code', '6-of-9 code']) expect(a).toContain(`| ${n} | ${s} |`);
    expect(a).not.toMatch(/\| 0 \|/); // a chance is a number or a bound, never a bare 0
  });

  it('--write replaces only the generated region of docs/DURABILITY.md', () => {
    const doc = `# D\n\nprose\n\n${DURABILITY_BEGIN}\nold\n${DURABILITY_END}\n\nmore prose\n`;
    const out = mergeTables(doc, 'NEW');
    expect(out).toContain('prose\n\n');
    expect(out).toContain(`${DURABILITY_BEGIN}\n\nNEW\n\n${DURABILITY_END}`);
    expect(out).not.toContain('old');
    expect(out.endsWith('more prose\n')).toBe(true);
  });
});
