// Strangers holding idle connections cannot lock a friend out, between real agents: while 100 idle
// TCP sockets are held open against bob's libp2p listener (50 from one loopback address, one each
// from 50 others, each reopened as soon as bob closes it), alice, restarted so that she must dial
// bob anew, replicates her packs to him. With libp2p's defaults (10 half-open connections, 10 s to
// upgrade) her dial was refused for as long as the sockets were held.
import { rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pairAgents, startAgent, type TestAgent } from '../helpers/agents.js';
import { tempDir } from '../helpers/cli.js';
import { holdIdleSockets, loopbackIps, type IdleSockets } from '../helpers/idle-sockets.js';
import { packIdsIn } from '../helpers/damage-packs.js';

describe('idle sockets against an agent', () => {
  let alice: TestAgent;
  let bob: TestAgent;
  const attacks: IdleSockets[] = [];

  beforeAll(async () => {
    alice = await startAgent('alice');
    bob = await startAgent('bob');
  }, 120_000);

  afterAll(async () => {
    for (const a of attacks) a.stop();
    for (const a of [alice, bob]) {
      await a?.stop();
      if (a) await rm(dirname(a.home), { recursive: true, force: true });
    }
  });

  it('a friend that dials anew while 100 idle sockets are held still connects and replicates', async () => {
    await pairAgents(bob, alice);
    const src = await tempDir('cairn-admission-src-');
    for (let i = 0; i < 20; i++) await writeFile(join(src, `f${i}`), `file ${i} `.repeat(5000 + i));
    await alice.cli(['backup', src]);
    // alice goes away and comes back: her connection to bob is new, made during the attack
    await alice.stop();
    const addr = bob.info.addrs.find((a) => a.includes('/ip4/127.0.0.1/tcp/')) ?? '';
    const port = Number(/\/tcp\/(\d+)/.exec(addr)?.[1]);
    expect(port).toBeGreaterThan(0);
    const oneIp = holdIdleSockets(port, ['127.0.0.2'], 50);
    const manyIps = holdIdleSockets(port, loopbackIps(0, 50), 1);
    attacks.push(oneIp, manyIps);
    await Promise.all([oneIp.ready, manyIps.ready]);
    alice = await startAgent('alice', { home: alice.home, existing: { recoveryPhrase: alice.recoveryPhrase } });
    const r = await alice.cli<{ underReplicated: number; wantedCopies: number; problems: string[] }>(['replicate', '--wait']);
    expect(r.problems, alice.log()).toEqual([]);
    expect(r.wantedCopies).toBe(1);
    expect(r.underReplicated).toBe(0);
    const local = await packIdsIn(join(alice.home, 'repo', 'packs'));
    expect(local.length).toBeGreaterThan(0);
    expect(await packIdsIn(join(bob.home, 'hosted', alice.info.peerId))).toEqual(local);
    expect(oneIp.opened() + manyIps.opened(), 'the attack was connected').toBeGreaterThanOrEqual(100);
    expect(bob.proc.exitCode).toBeNull();
  }, 180_000);
});
