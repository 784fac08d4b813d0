// The replication upload limit (--bwlimit) holds between two real agents. Only a lower bound on
// time is asserted: a limit can make replication slower, never faster, whatever the machine's load.
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pairAgents, startAgent, type TestAgent } from '../helpers/agents.js';
import { tempDir } from '../helpers/cli.js';

describe('replication bandwidth limit', () => {
  const agents: TestAgent[] = [];
  afterAll(async () => {
    for (const a of agents) await a.stop();
  });

  it('pushes 6 MiB at 1 MiB/s in no less than about 4 s, and the data arrives', async () => {
    const src = join(await tempDir('cairn-bw-'), 'src');
    await mkdir(src);
    await writeFile(join(src, 'random.bin'), randomBytes(6 * 1024 * 1024));
    const alice = await startAgent('alice', { extraArgs: ['--bwlimit', '1M'] });
    const bob = await startAgent('bob');
    agents.push(alice, bob);
    await pairAgents(alice, bob);
    // the agent replicates by itself soon after a backup: time from the backup to full replication
    const started = performance.now();
    await alice.cli(['backup', src]);
    const r = await alice.cli<{ underReplicated: number }>(['replicate', '--wait']);
    const seconds = (performance.now() - started) / 1000;
    expect(r.underReplicated).toBe(0);
    const peers = await alice.cli<Array<{ storedAtPeerBytes: number }>>(['peers']);
    const mib = (peers[0]?.storedAtPeerBytes ?? 0) / (1024 * 1024);
    expect(mib).toBeGreaterThan(6);
    // at 1 MiB/s with one second of burst, pushing `mib` MiB takes at least mib - 1 seconds
    expect(seconds).toBeGreaterThan(mib - 1.5);
  }, 180_000);
});
