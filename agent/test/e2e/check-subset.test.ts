// `check --read-data-subset` as restic spells it (issue 21 item 4): "n/t" reads the n-th of t fixed
// groups of packs, so t runs read every pack exactly once and a damaged pack is found by the run of
// its group alone; "N%" reads a random share (at least one pack); other spellings are a usage error
// in one line. Real CLI, real repository.
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { cairn, cairnJson, initHome, tempDir } from '../helpers/cli.js';
import { flipByte, listPacks, type PackFile } from '../helpers/damage-packs.js';
import { mixedTreeSpec, writeSampleTree } from '../helpers/sample-tree.js';

const MiB = 1024 * 1024;
interface CheckJson {
  ok: boolean;
  packs: number;
  packsRead: number;
  problems: Array<{ severity: string; message: string; packId?: string }>;
}
let work: string;
let home: string;
let packs: PackFile[];

beforeAll(async () => {
  work = await tempDir('cairn-subset-');
  const src = join(work, 'src');
  await writeSampleTree(src, mixedTreeSpec({ seed: 7, bigRandom: [12 * MiB, 10 * MiB, 9 * MiB], bigText: [], smallFiles: 20 }));
  home = await initHome();
  await cairnJson(['backup', src], { home });
  packs = await listPacks(home);
}, 300_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
  if (home) await rm(dirname(home), { recursive: true, force: true });
});

/** `check` with `args`, its JSON report (stdout) and exit code; a failed check still prints its report. */
async function check(args: string[]): Promise<{ code: number | null; report: CheckJson | null; stderr: string }> {
  const r = await cairn(['check', ...args, '--json'], { home });
  let report: CheckJson | null = null;
  try {
    report = JSON.parse(r.stdout) as CheckJson;
  } catch {
    report = null;
  }
  return { code: r.code, report, stderr: r.stderr };
}

test('n/t: the t groups read every pack exactly once; a share reads that share, at least one', async () => {
  expect(packs.length).toBeGreaterThanOrEqual(4);
  const all = await check(['--read-data']);
  expect(all.code).toBe(0);
  expect(all.report?.packsRead).toBe(packs.length);
  let sum = 0;
  for (let n = 1; n <= 3; n++) {
    const part = await check(['--read-data-subset', `${n}/3`]);
    expect(part.code, part.stderr).toBe(0);
    sum += part.report?.packsRead ?? 0;
  }
  expect(sum).toBe(packs.length);
  expect((await check(['--read-data-subset', '100%'])).report?.packsRead).toBe(packs.length);
  expect((await check(['--read-data-subset', '0.1%'])).report?.packsRead).toBe(1);
  expect((await check(['--read-data-subset', '50%'])).report?.packsRead).toBe(Math.ceil(packs.length / 2));
});

test("a damaged pack is found by its group's run and by no other", async () => {
  // the largest pack: a data pack (a damaged tree pack is found by every run, whose structure
  // check reads all trees; the last pack by ID was one in about one run of five)
  const victim = packs.reduce((a, b) => (b.size > a.size ? b : a));
  await flipByte(victim.path, Math.floor(victim.size / 2));
  const groups = 4;
  const group = (parseInt(victim.id.slice(0, 8), 16) % groups) + 1;
  for (let n = 1; n <= groups; n++) {
    const r = await check(['--read-data-subset', `${n}/${groups}`]);
    if (n === group) {
      expect(r.code, r.stderr).toBe(1);
      expect(r.report?.problems.some((p) => p.severity === 'error' && p.message.includes(victim.id))).toBe(true);
    } else expect(r.code, `group ${n}: ${r.stderr}`).toBe(0);
  }
  await flipByte(victim.path, Math.floor(victim.size / 2)); // put the bit back
});

test.each(['0%', '101%', '3/2', '0/4', 'half', '1/0'])('--read-data-subset %s is a usage error in one line', async (spelling) => {
  const r = await cairn(['check', '--read-data-subset', spelling], { home });
  expect(r.code).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain(`--read-data-subset ${spelling}`);
});
