// `cairn backup --stdin` through the running agent, stopped by Ctrl-C before its input ended (in a
// pipeline Ctrl-C reaches the whole group: the CLI dies at once, so no cut input can ever be sent
// as if it had ended). The agent commits nothing and records the job as cancelled, saying why,
// instead of "failed: aborted". A real agent, the real binary, a real SIGINT.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Job, SnapshotsResult } from '../../../protocol/api.js';
import { startAgent, type TestAgent } from '../helpers/agents.js';
import { CAIRN_BIN, ROOT, TEST_PASSPHRASE } from '../helpers/cli.js';

const MIB = 1024 * 1024;

describe('a stdin backup through the agent, its sender stopped by Ctrl-C', () => {
  let agent: TestAgent;
  beforeAll(async () => {
    agent = await startAgent('stdin-cancel');
  }, 60_000);
  afterAll(async () => {
    await agent?.stop();
  });

  test('commits nothing, and the job ends cancelled naming why', async () => {
    const child = spawn(process.execPath, [CAIRN_BIN, 'backup', '--stdin', '--stdin-filename', 'dump.sql'], {
      cwd: ROOT,
      env: { ...process.env, CAIRN_HOME: agent.home, CAIRN_PASSPHRASE: TEST_PASSPHRASE },
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    child.stdin.on('error', () => undefined);
    const exited = new Promise<number | null>((r) => child.once('exit', (code, signal) => r(signal === 'SIGINT' ? 130 : code)));
    // some input reaches the agent (the job runs), then the sender is interrupted mid-stream
    for (let i = 0; i < 8; i++) await new Promise<void>((r) => child.stdin.write(randomBytes(MIB), () => r()));
    let running: Job | undefined;
    for (let i = 0; i < 100 && !running; i++) {
      running = (await agent.cli<Job[]>(['jobs'])).find((j) => j.kind === 'backup' && j.state === 'running');
      if (!running) await new Promise((r) => setTimeout(r, 100));
    }
    expect(running, 'the stdin backup is a running job').toBeDefined();
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    let job: Job | undefined;
    for (let i = 0; i < 100; i++) {
      job = (await agent.cli<Job[]>(['jobs'])).find((j) => j.id === running?.id);
      if (job && job.state !== 'running') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(job?.state).toBe('cancelled');
    expect(job?.error).toBe('cancelled because the command sending standard input stopped before the input ended');
    expect(await agent.cli<SnapshotsResult>(['snapshots'])).toEqual([]);
  }, 120_000);
});
