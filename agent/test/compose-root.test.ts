// The composition root (compose-root.ts) on a real home: real LevelDB, a real pack directory and a
// real libp2p node on loopback. What the CLI's in-process mode gets (no mesh without friends, no
// agent parts) and what the agent gets (the mesh, whose reader through friends the repository reads
// with while it runs; the scheduler, job store and activity, wired into the services).
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openRoot } from '../src/compose-root.js';
import { systemClock } from '../src/util/clock.js';
import { initStores } from './helpers/stores.js';

async function freshHome(): Promise<string> {
  const home = join(await mkdtemp(join(tmpdir(), 'cairn-root-')), 'home');
  await (await initStores(home, 'pw', new Date('2026-01-01T00:00:00Z'))).close();
  return home;
}

const meshOptions = { listen: ['/ip4/127.0.0.1/tcp/0'], name: 'root-test', replicas: 1, diskFloorBytes: 0, clock: systemClock };

describe('openRoot', () => {
  it('a CLI command that may restore from friends: no mesh when the repository has none, local reads, no agent parts', async () => {
    const home = await freshHome();
    const root = await openRoot({ home, passphrase: 'pw', clock: systemClock, mesh: { onlyWithFriends: true, options: meshOptions } });
    try {
      expect(root.mesh).toBeUndefined();
      expect(root.services.mesh).toBeUndefined();
      expect(root.agent).toBeUndefined();
      expect(root.services.scheduler).toBeUndefined();
      expect(root.repo.reader).toBe(root.repo.store);
    } finally {
      await root.close();
    }
  });

  it('the agent: the repository reads through the mesh while it runs; the scheduler, jobs and activity are the services’', async () => {
    const home = await freshHome();
    let backups = 0;
    const root = await openRoot({
      home,
      passphrase: 'pw',
      clock: systemClock,
      mesh: { onlyWithFriends: false, options: meshOptions },
      agent: { name: 'root-test', log: () => undefined, afterBackup: () => (backups += 1), afterOp: () => undefined },
    });
    const mesh = root.mesh;
    try {
      expect(mesh).toBeDefined();
      expect(root.services.mesh).toBe(mesh);
      expect(root.repo.reader).toBe(mesh?.packGet.reader);
      expect(root.services.scheduler).toBe(root.agent?.scheduler);
      expect(root.services.jobs).toBe(root.agent?.jobs);
      expect(root.services.activity).toBe(root.agent?.activity);
      expect(root.services.agentName).toBe('root-test');
      root.services.afterBackup?.();
      expect(backups).toBe(1);
    } finally {
      await root.close();
    }
    // stopped: the mesh's reader is no longer offered
    expect(mesh?.packGet.activeReader).toBeUndefined();
  });
});
