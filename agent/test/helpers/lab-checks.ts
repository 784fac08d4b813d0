// What the NAT lab's agent tests ask of their agents, in one place: a friend as an agent lists it,
// this host's reachability once it settles, and the round trip every reachability test ends with
// (back up, replicate, lose the local packs, restore from the friend: identical bytes).
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import type { PeerListing } from '../../../protocol/api.js';
import type { StatusResult } from '../../../protocol/console-api.js';
import { tempDir } from './cli.js';
import { packIdsIn } from './damage-packs.js';
import type { LabAgent } from './natlab-agents.js';
import { compareTrees, formatDiffs } from './tree-compare.js';

const REACH_POLLS = 90;
const REACH_POLL_MS = 1_000;

/** The friend `name` as `a` lists it; throws when `a` has no such friend. */
export async function labFriend(a: LabAgent, name: string): Promise<PeerListing> {
  const f = (await a.cli<PeerListing[]>(['peers'])).find((p) => p.name === name);
  if (!f) throw new Error(`${a.name} has no friend ${name}`);
  return f;
}

/** Polls `cairn status` until this host's reachability is `state` (with `relays`, when given). */
export async function labReachability(a: LabAgent, state: string, relays?: string[]): Promise<NonNullable<StatusResult['reachability']>> {
  let last: StatusResult['reachability'] = null;
  for (let i = 0; i < REACH_POLLS; i++) {
    const r = await a.cairn(['status', '--json']);
    last = (JSON.parse(r.stdout) as StatusResult).reachability;
    if (last?.state === state && (relays === undefined || JSON.stringify(last.relays) === JSON.stringify(relays))) return last;
    await sleep(REACH_POLL_MS);
  }
  throw new Error(`${a.name}: reachability never became ${state} ${relays?.join(',') ?? ''}: last ${JSON.stringify(last)}\n${a.log().slice(-4000)}`);
}

/** A source tree of one 6 MiB random file and 20 small ones. */
export async function labSourceTree(tag: string): Promise<string> {
  const src = join(await tempDir(`cairn-lab-${tag}-src-`), 'src');
  await mkdir(join(src, 'sub'), { recursive: true });
  await writeFile(join(src, 'big.bin'), randomBytes(6 * 1024 * 1024));
  for (let i = 0; i < 20; i++) await writeFile(join(src, 'sub', `f${i}.txt`), `file ${i} ${randomBytes(64).toString('hex')}\n`);
  return src;
}

/**
 * `owner` backs up `src` and replicates (nothing under-replicated); `holder` then holds exactly the
 * owner's packs; the owner loses its local packs and restores from `holder` alone: identical bytes
 * (the restore's target is removed afterwards).
 */
export async function labRoundTrip(owner: LabAgent, holder: LabAgent, src: string, tag: string): Promise<void> {
  await owner.cli(['backup', src]);
  const r = await owner.cli<{ underReplicated: number }>(['replicate', '--wait']);
  expect(r.underReplicated).toBe(0);
  const local = await packIdsIn(join(owner.home, 'repo', 'packs'));
  expect(local.length).toBeGreaterThan(0);
  expect(await packIdsIn(join(holder.home, 'hosted', owner.info.peerId))).toEqual(local);

  await rm(join(owner.home, 'repo', 'packs'), { recursive: true, force: true });
  const target = await tempDir(`cairn-lab-${tag}-restore-`);
  const restored = await owner.cli<{ errors: string[]; fetched: Record<string, number> }>(['restore', 'latest', '--target', target]);
  expect(restored.errors).toEqual([]);
  expect(Object.keys(restored.fetched)).toEqual([holder.name]);
  expect(formatDiffs(await compareTrees(src, join(target, src)))).toBe('');
  await rm(target, { recursive: true, force: true });
}
