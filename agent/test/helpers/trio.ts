// Three real agents for the tests where a friend's disk goes back in time: alice (--replicas 2)
// paired with bob and carol. Bob also listens on a fixed address, so after a restart (on his own
// home, or an older copy of it) alice finds him where she last knew him, as with a friend's agent.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pairAgents, startAgent, type TestAgent } from './agents.js';
import { copyDir, freePort, replaceDir } from './mesh-hosted.js';

export class Trio {
  alice!: TestAgent;
  bob!: TestAgent;
  carol!: TestAgent;
  private readonly started: TestAgent[] = [];
  private bobPort = 0;

  static async start(): Promise<Trio> {
    const t = new Trio();
    t.bobPort = await freePort();
    t.alice = t.track(await startAgent('alice', { replicas: 2 }));
    await t.startBob();
    t.carol = t.track(await startAgent('carol'));
    await pairAgents(t.alice, t.bob);
    await pairAgents(t.alice, t.carol);
    return t;
  }

  /**
   * Stops bob, copies his home to `copy` and starts him again; the function returned puts that
   * copy back the same way: bob's disk as it is now.
   */
  async keepBobsHome(copy: string): Promise<() => Promise<void>> {
    await this.bob.stop();
    await copyDir(this.bob.home, copy);
    await this.startBob(this.bob.home);
    return async () => {
      await this.bob.stop();
      await replaceDir(copy, this.bob.home);
      await this.startBob(this.bob.home);
    };
  }

  /** Stops every agent started and removes their homes. */
  async stop(): Promise<void> {
    for (const a of this.started) await a.stop();
    for (const a of this.started) await rm(join(a.home, '..'), { recursive: true, force: true });
  }

  private track(a: TestAgent): TestAgent {
    this.started.push(a);
    return a;
  }

  private async startBob(home?: string): Promise<void> {
    const existing = home ? { home, existing: { recoveryPhrase: this.bob.recoveryPhrase } } : {};
    this.bob = this.track(await startAgent('bob', { ...existing, extraArgs: ['--listen', `/ip4/127.0.0.1/tcp/${this.bobPort}`] }));
  }
}
