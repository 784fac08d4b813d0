// A crash during prune leaves nothing behind at friends (real agents, separate processes, TCP on
// loopback). Alice's packs are at bob; she forgets a snapshot and prunes in a process that is
// killed with SIGKILL right after the index change, before any pack file is deleted: the delete
// requests for bob must already be queued (same synced LevelDB batch). Then the state an older
// agent left after such a crash (index changed, nothing queued) is made by emptying the queue: the
// replication audit finds bob holding packs alice no longer indexes and has them deleted (after
// bob's grace), while every pack alice still needs stays.
import { spawn } from 'node:child_process';
import { writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { homePaths } from '../../src/repo/home.js';
import { openStateDb } from '../../src/state/db.js';
import { pairAgents, startAgent, type TestAgent } from '../helpers/agents.js';
import { collect } from '../helpers/cli.js';
import { initHome, ROOT, TEST_PASSPHRASE, tempDir } from '../helpers/cli.js';
import { listPacks } from '../helpers/damage-packs.js';
import { hostedPacks } from '../helpers/mesh-hosted.js';
import { mixedTreeSpec, writeSampleTree } from '../helpers/sample-tree.js';

const MIB = 1024 * 1024;
const GRACE_S = 4;

async function agentWithGrace(name: string, home?: string, recoveryPhrase?: string): Promise<TestAgent> {
  const h = home ?? (await initHome());
  if (!home) await writeFile(join(h, 'cairn.yaml'), `friends:\n  deletion-grace: ${GRACE_S}s\n`);
  return startAgent(name, { home: h, existing: { recoveryPhrase: recoveryPhrase ?? '' }, replicas: 1 });
}

/** Runs prune on `home` in a child process that kills itself (SIGKILL) once the index batch is written. */
async function pruneKilledAfterIndexChange(home: string): Promise<{ signal: NodeJS.Signals | null; stderr: string }> {
  const dist = (p: string) => JSON.stringify(join(ROOT, 'dist', 'agent', 'src', p));
  const script = `
    const { openStores } = await import(${dist('compose-root.js')});
    const { pruneOp } = await import(${dist('ops/prune.js')});
    const { systemClock } = await import(${dist('util/clock.js')});
    const { repo, ledgers } = await openStores(${JSON.stringify(home)}, ${JSON.stringify(TEST_PASSPHRASE)});
    // the 'delete' phase starts right after the index batch, before the first pack file goes
    await pruneOp({ home: ${JSON.stringify(home)}, repo, ledgers, clock: systemClock }, { dryRun: false }, (p) => {
      if (p.phase === 'delete') process.kill(process.pid, 'SIGKILL');
    });
    console.log('prune finished without reaching the delete phase');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const r = await collect(child);
  return { signal: r.signal, stderr: r.stderr + r.stdout };
}

/** Alice's state, read with the agent stopped: packs her index names and delete requests queued per friend. */
async function aliceState(home: string): Promise<{ indexed: Set<string>; outbox: Map<string, Set<string>> }> {
  const { db, sub } = await openStateDb(homePaths(home).state);
  try {
    const indexed = new Set<string>();
    for await (const v of sub.index.values()) indexed.add(v.split(':')[0] as string);
    const outbox = new Map<string, Set<string>>();
    for await (const k of sub.deleteOutbox.keys()) {
      const [peer, pack] = k.split('!') as [string, string];
      outbox.set(peer, (outbox.get(peer) ?? new Set()).add(pack));
    }
    return { indexed, outbox };
  } finally {
    await db.close();
  }
}

/** The queue as an agent that queued after deleting its files left it after a kill -9: empty, no record of asking. */
async function clearOutbox(home: string): Promise<void> {
  const { db, sub } = await openStateDb(homePaths(home).state);
  try {
    await sub.deleteOutbox.clear();
    await sub.deleteAsked.clear();
  } finally {
    await db.close();
  }
}

const ids = (packs: Array<{ id: string }>) => packs.map((p) => p.id).sort();

describe('a prune killed between its index change and its file deletions', () => {
  let alice: TestAgent;
  let bob: TestAgent;
  let work: string;
  /** Packs bob held for alice before the prune, and those the prune dropped from her index. */
  let heldBefore: string[] = [];
  let doomed: string[] = [];

  beforeAll(async () => {
    work = await tempDir('cairn-prune-crash-');
    alice = await agentWithGrace('alice');
    bob = await agentWithGrace('bob');
    await pairAgents(alice, bob);
    const data = join(work, 'data');
    await writeSampleTree(join(data, 'old'), mixedTreeSpec({ seed: 41, bigRandom: [3 * MIB, 3 * MIB], bigText: [], smallFiles: 20 }));
    await writeSampleTree(join(data, 'kept'), mixedTreeSpec({ seed: 42, bigRandom: [2 * MIB], bigText: [], smallFiles: 20 }));
    await alice.cliOk(['backup', data]);
    await rm(join(data, 'old'), { recursive: true });
    await alice.cliOk(['backup', data]);
    await alice.cliOk(['replicate', '--wait']);
    await alice.cliOk(['forget', '--keep-last', '1']);
    heldBefore = ids(await hostedPacks(bob.home, alice.info.peerId));
    expect(heldBefore).toEqual(ids(await listPacks(alice.home)));
  }, 180_000);

  afterAll(async () => {
    await alice?.stop();
    await bob?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('the delete requests for the friend are queued in the same batch as the index change', async () => {
    await alice.stop();
    const killed = await pruneKilledAfterIndexChange(alice.home);
    expect(killed.signal, `prune was not killed at the marked point: ${killed.stderr}`).toBe('SIGKILL');
    const { indexed, outbox } = await aliceState(alice.home);
    doomed = heldBefore.filter((id) => !indexed.has(id));
    expect(doomed.length, 'the prune dropped no pack from the index').toBeGreaterThan(0);
    // the kill came before any file was deleted: the doomed packs are still on alice's disk
    expect(ids(await listPacks(alice.home))).toEqual(expect.arrayContaining(doomed));
    // ... and every one of them is queued for deletion at bob
    expect([...(outbox.get(bob.info.peerId) ?? [])].sort(), 'packs dropped from the index but not queued for the friend').toEqual(doomed);
  }, 120_000);

  test('the audit queues deletes for packs a friend holds that our index no longer names; the rest stays', async () => {
    expect(doomed.length).toBeGreaterThan(0);
    // what an agent that queued the requests after deleting its files left after a kill -9
    await clearOutbox(alice.home);
    alice = await agentWithGrace('alice', alice.home, alice.recoveryPhrase);
    // the first round (re)connects to bob, the second one audits his listing
    const replicate = async () => {
      try {
        await alice.cliOk(['replicate', '--wait']);
      } catch (err) {
        throw new Error(`${(err as Error).message}\nalice: ${alice.log().slice(-3000)}`);
      }
    };
    await replicate();
    await replicate();
    const kept = heldBefore.filter((id) => !doomed.includes(id));
    let left = doomed;
    for (let i = 0; i < 60 && left.length > 0; i++) {
      await sleep(500);
      const now = new Set(ids(await hostedPacks(bob.home, alice.info.peerId)));
      left = doomed.filter((id) => now.has(id));
    }
    expect(left, `bob still holds packs alice pruned\n${bob.log().slice(-2000)}`).toEqual([]);
    expect(ids(await hostedPacks(bob.home, alice.info.peerId))).toEqual(expect.arrayContaining(kept));
    await alice.cliOk(['check', '--read-data']);
    // nothing more is asked at the next round
    await alice.cliOk(['replicate', '--wait']);
    expect(ids(await hostedPacks(bob.home, alice.info.peerId))).toEqual(expect.arrayContaining(kept));
  }, 120_000);
});
