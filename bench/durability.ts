// `npm run durability`: durability by the numbers (issue 19). Estimates, for meshes of 10 to 1,000
// friends, the chance per year that a snapshot cannot be restored from friends, with replicas 2
// and 3 and with k-of-n erasure codes for comparison, by the model in bench/durability-model.ts
// (Monte Carlo with a seeded PRNG, cross-checked by a Markov approximation). Pure compute: no
// network, no disk but the report. docs/DURABILITY.md explains the model and the assumptions.
//
//   node dist/bench/durability.js [--quick] [--seed N] [--trials N] [--write]
//
// --quick: few trials (a smoke run, seconds); --write: replace the generated tables in
// docs/DURABILITY.md (between its durability:begin/end markers) instead of only printing them.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CONFIG_DEFAULTS } from '../protocol/config.js';
import { findRoot } from './exec.js';
import {
  analytic,
  derive,
  erasureScheme,
  monteCarlo,
  replicasScheme,
  restorableNow,
  type Assumptions,
  type Estimate,
  type Scheme,
} from './durability-model.js';

export const DURABILITY_BEGIN = '<!-- durability:begin (bench/durability.ts) -->';
export const DURABILITY_END = '<!-- durability:end -->';
const DAY_MS = 86_400_000;
const TRIALS = 20_000;
const QUICK_TRIALS = 300;
const MESH_SIZES = [10, 30, 100, 300, 1000];

/** The base case: every number is an assumption, sourced in docs/DURABILITY.md. */
export const BASE: Assumptions = {
  friends: 10,
  onlineShare: 0.9,
  goneLossPerYear: 0.05,
  silentLossPerYear: 0.01,
  ownerLossPerYear: 0.05,
  uplinkBitsPerSec: 10e6,
  dataBytes: 500e9,
  packBytes: 16 * 1024 * 1024,
  repairAfterDays: CONFIG_DEFAULTS.friends.repairAfterMs / DAY_MS,
  auditPeriodDays: CONFIG_DEFAULTS.friends.audit.periodMs / DAY_MS,
};

export const SCHEMES: readonly Scheme[] = [replicasScheme(2), replicasScheme(3), erasureScheme(4, 8), erasureScheme(6, 9)];

export function fmt(p: number): string {
  if (p === 0) return '0';
  if (p >= 0.01) return p.toFixed(p >= 0.1 ? 2 : 3);
  return p.toExponential(1);
}

/** Fewer simulated years than this saw a short snapshot: the estimate is marked, the Markov column is the better guide. */
export const FEW_HITS = 10;

export function fmtEstimate(e: Estimate, hits: number): string {
  if (e.value === null) return `< ${fmt(e.upper)}`;
  return `${fmt(e.value)} (${fmt(e.lower)}–${fmt(e.upper)})${hits < FEW_HITS ? ' †' : ''}`;
}

interface Options {
  trials: number;
  seed: number;
}

/** One table: a row per (assumptions, scheme); `vary` names what differs between rows. */
function table(rows: { a: Assumptions; s: Scheme; vary: string }[], o: Options, varyHeader: string): string {
  const out = [
    `| ${varyHeader} | scheme | storage | repair copy | short at some moment: simulated | (Markov) | snapshot lost: simulated | (Markov) | packs restorable at once |`,
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  let seed = o.seed;
  for (const { a, s, vary } of rows) {
    const d = derive(a, s);
    const mc = monteCarlo(a, s, o.trials, seed++);
    const an = analytic(a, s);
    out.push(
      `| ${vary} | ${s.label} | ${(s.n / s.k).toFixed(2)}x | ${d.repairDays < 1 ? `${(d.repairDays * 24).toFixed(1)} h` : `${d.repairDays.toFixed(1)} d`} | ${fmtEstimate(mc.short, mc.hits)} | ${fmt(an.short)} | ${fmtEstimate(mc.lost, mc.hits)} | ${fmt(an.lost)} | ${(100 * restorableNow(a, s)).toFixed(1)}% |`,
    );
  }
  return out.join('\n');
}

export function report(o: Options): string {
  const fits = (a: Assumptions, s: Scheme) => s.n <= a.friends - 1;
  const base = MESH_SIZES.flatMap((n) => SCHEMES.map((s) => ({ a: { ...BASE, friends: n }, s, vary: String(n) }))).filter((r) => fits(r.a, r.s));
  const harsh: Assumptions = { ...BASE, goneLossPerYear: 0.2, silentLossPerYear: 0.05, ownerLossPerYear: 0.1, uplinkBitsPerSec: 2e6, onlineShare: 0.5 };
  const stress = [10, 100, 1000].flatMap((n) => SCHEMES.map((s) => ({ a: { ...harsh, friends: n }, s, vary: String(n) }))).filter((r) => fits(r.a, r.s));
  const repairAfter = [3, 7, 14, 30, 60].flatMap((days) =>
    [replicasScheme(2), replicasScheme(3)].map((s) => ({ a: { ...BASE, friends: 30, repairAfterDays: days }, s, vary: `${days} d` })),
  );
  const audit = [7, 30, 90, 365].flatMap((days) =>
    [replicasScheme(2), replicasScheme(3)].map((s) => ({ a: { ...BASE, friends: 30, auditPeriodDays: days }, s, vary: `${days} d` })),
  );
  const legend =
    'Simulated: mean and 95% interval over the simulated years (importance-sampled); "< x": no simulated year saw it, x is a 95% upper bound; ' +
    `†: fewer than ${FEW_HITS} simulated years saw it, so the Markov column is the better estimate. "Short at some moment": friends alone could not have restored the snapshot at some moment of the year (the owner's own copy still could). ` +
    '"Snapshot lost": the owner\'s copy died while it was short, so it cannot be restored. "Repair copy": days to copy again what one lost friend held of ours. ' +
    '"Packs restorable at once": share of the packs a restore started at a random moment can fetch without waiting for a friend to come online.';
  return [
    `Generated by \`npm run durability\` (bench/durability.ts, seed ${o.seed}, ${o.trials.toLocaleString('en')} simulated years per row); do not edit by hand.`,
    '',
    legend,
    '',
    '### Base case: mesh size',
    '',
    `Assumptions of the base case (section "Assumptions"); repair-after ${BASE.repairAfterDays} d and audit period ${BASE.auditPeriodDays} d are Cairn's defaults.`,
    '',
    table(base, o, 'friends (N)'),
    '',
    '### A harsh case',
    '',
    'Friends lost 4x as often (20%/year gone, 5%/year silent), the owner 10%/year, online half the time, 2 Mbit/s uplink.',
    '',
    table(stress, { ...o, seed: o.seed + 1000 }, 'friends (N)'),
    '',
    '### `repair-after` (mesh of 30, base case)',
    '',
    table(repairAfter, { ...o, seed: o.seed + 2000 }, 'repair-after'),
    '',
    '### Audit period (mesh of 30, base case)',
    '',
    table(audit, { ...o, seed: o.seed + 3000 }, 'audit period'),
  ].join('\n');
}

function parseArgs(argv: readonly string[]): Options & { write: boolean } {
  const o = { trials: TRIALS, seed: 1, write: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 1) throw new Error(`${arg} needs a positive whole number`);
      return v;
    };
    if (arg === '--quick') o.trials = QUICK_TRIALS;
    else if (arg === '--seed') o.seed = value();
    else if (arg === '--trials') o.trials = value();
    else if (arg === '--write') o.write = true;
    else throw new Error(`unknown argument ${arg} (--quick, --seed N, --trials N, --write)`);
  }
  return o;
}

/** `doc` with the text between the markers replaced by `tables`. */
export function mergeTables(doc: string, tables: string): string {
  const b = doc.indexOf(DURABILITY_BEGIN);
  const e = doc.indexOf(DURABILITY_END);
  if (b < 0 || e < b) throw new Error(`docs/DURABILITY.md has no ${DURABILITY_BEGIN} ... ${DURABILITY_END} region`);
  return `${doc.slice(0, b + DURABILITY_BEGIN.length)}\n\n${tables}\n\n${doc.slice(e)}`;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const started = process.hrtime.bigint();
  const tables = report(o);
  process.stdout.write(`${tables}\n`);
  process.stderr.write(`[durability] ${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)} s\n`);
  if (o.write) {
    const path = join(findRoot(import.meta.dirname), 'docs', 'DURABILITY.md');
    await writeFile(path, mergeTables(await readFile(path, 'utf8'), tables));
    process.stderr.write(`[durability] written to ${path}\n`);
  }
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) await main();
