// Storage challenges when the owner has no local copy of its packs (as after a recovery): alice
// (replicas 2) with bob and carol, real agents. Two holders that give the same answer pass without
// any pack being fetched; when bob's bytes are garbled his answer differs from carol's, and the
// whole pack, fetched and verified by its name, settles it: bob fails, carol passes.
import { randomBytes } from 'node:crypto';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { AuditResult } from '../../../protocol/api.js';
import { cairn, tempDir } from '../helpers/cli.js';
import { packFilesIn } from '../helpers/damage-packs.js';
import { hostedPacks } from '../helpers/mesh-hosted.js';
import { mixedTreeSpec, writeSampleTree } from '../helpers/sample-tree.js';
import { Trio } from '../helpers/trio.js';

const MIB = 1024 * 1024;

describe('challenges without a local copy', () => {
  let t: Trio;
  let work: string;
  beforeAll(async () => {
    work = await tempDir('cairn-challenge-nolocal-');
    t = await Trio.start();
  });
  afterAll(async () => {
    await t?.stop();
  });

  const audit = async () => {
    const r = await cairn(['audit', '--json'], { home: t.alice.home });
    return { code: r.code, result: JSON.parse(r.stdout) as AuditResult };
  };

  test("another holder's equal answer passes; a disagreement is settled by the whole pack, fetched and verified", async () => {
    await writeSampleTree(join(work, 'data'), mixedTreeSpec({ seed: 23, bigRandom: [5 * MIB, 5 * MIB], bigText: [], smallFiles: 10 }));
    await t.alice.cliOk(['backup', join(work, 'data')]);
    await t.alice.cliOk(['replicate', '--wait']);
    const local = await packFilesIn(join(t.alice.home, 'repo', 'packs'));
    const n = local.length;
    // alice loses her local packs (a recovered host holds none until a restore needs them)
    for (const p of local) await rm(p.path);

    const agreed = await audit();
    expect(agreed.code).toBe(0);
    for (const name of ['bob', 'carol'])
      expect(agreed.result.friends.find((f) => f.name === name)).toMatchObject({ challenged: n, passed: n, failed: [], inconclusive: 0 });

    const [garbled] = (await hostedPacks(t.bob.home, t.alice.info.peerId)).sort((a, b) => b.size - a.size);
    if (!garbled) throw new Error('bob holds nothing');
    await writeFile(garbled.path, randomBytes(garbled.size));
    const settled = await audit();
    expect(settled.code).toBe(1);
    expect(settled.result.friends.find((f) => f.name === 'bob')).toMatchObject({
      challenged: n,
      passed: n - 1,
      failed: [expect.objectContaining({ packId: garbled.id })],
    });
    expect(settled.result.friends.find((f) => f.name === 'carol')).toMatchObject({ challenged: n, passed: n, failed: [] });
    // the packs fetched to settle it are gone again
    expect(await readdir(join(t.alice.home, 'challenge-scratch')).catch(() => [])).toEqual([]);
  });
});
