// A second agent on ports the first holds fails with one line naming the port and what to do
// (issue 21 item 6), not libp2p's text about transportManager.faultTolerance or a bare EADDRINUSE.
import { afterAll, describe, expect, test } from 'vitest';
import { startAgent, type TestAgent } from '../helpers/agents.js';
import { cairn, initHome } from '../helpers/cli.js';
import { stablePort } from '../helpers/fault-agents.js';

describe('a busy port', () => {
  let first: TestAgent | undefined;
  afterAll(async () => {
    await first?.stop();
  });

  test('for friends, then for the console: exit 2, one line naming the port', async () => {
    const port = await stablePort();
    first = await startAgent('first', { extraArgs: ['--listen', `/ip4/127.0.0.1/tcp/${port}`] });
    const home = await initHome();
    const mesh = await cairn(['agent', '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--api', '127.0.0.1:0'], { home });
    expect(mesh.code, mesh.stderr).toBe(2);
    const meshLine = mesh.stderr
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('cairn: '));
    expect(meshLine).toEqual([
      `cairn: cannot listen for friends on /ip4/127.0.0.1/tcp/${port}: the port is in use (another cairn agent, or another service?): stop it, or choose another address with --listen /ip4/0.0.0.0/tcp/PORT (or listen: in cairn.yaml)`,
    ]);
    const apiPort = new URL(first.info.api).port;
    const api = await cairn(['agent', '--listen', '/ip4/127.0.0.1/tcp/0', '--api', `127.0.0.1:${apiPort}`], { home });
    expect(api.code, api.stderr).toBe(2);
    expect(api.stderr).toContain(`cairn: cannot listen for the console and API on 127.0.0.1:${apiPort}: the port is in use`);
    expect(api.stderr).not.toMatch(/faultTolerance|EADDRINUSE/);
  }, 120_000);
});
