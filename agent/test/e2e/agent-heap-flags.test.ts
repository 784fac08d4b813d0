// The agent daemon (and the relay daemon) runs with V8 heap flags that keep its heap near what it holds (bin/cairn.js
// AGENT_V8_FLAGS, SPEC 11): the launcher replaces itself with the same node and those flags, so
// the agent is one process (the PID in agent.json, the one signals reach), and a flag the user
// set in NODE_OPTIONS wins over ours.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type TestAgent } from '../helpers/agents.js';
import { CAIRN_BIN, cairnJson, ROOT, TEST_PASSPHRASE, tempDir } from '../helpers/cli.js';
import { startRelay, type TestRelay } from '../helpers/relay-agent.js';

async function argvOf(pid: number): Promise<string[]> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter((a) => a !== '');
}

async function envOf(pid: number): Promise<string[]> {
  return (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0').filter((a) => a !== '');
}

describe('the agent daemon runs with its V8 heap flags', () => {
  let agent: TestAgent | TestRelay | undefined;
  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
  });

  it('the process that serves (the PID in agent.json, the one spawned) has both flags, before the script', async () => {
    agent = await startAgent('heapflags');
    expect(agent.info.pid).toBe(agent.proc.pid);
    const argv = await argvOf(agent.info.pid);
    const script = argv.findIndex((a) => a.endsWith('cairn.js'));
    expect(argv.slice(1, script)).toEqual(expect.arrayContaining(['--max-semi-space-size=4', '--heap-growing-percent=50']));
    // glibc's arenas limited too (bin/cairn.js MALLOC_ARENA_MAX)
    expect(await envOf(agent.info.pid)).toContain('MALLOC_ARENA_MAX=2');
  }, 60_000);

  it('the relay daemon (cairn relay) runs with them too', async () => {
    agent = await startRelay('heapflags-relay');
    const argv = await argvOf(agent.info.pid);
    const script = argv.findIndex((a) => a.endsWith('cairn.js'));
    expect(argv.slice(1, script)).toEqual(expect.arrayContaining(['--max-semi-space-size=4', '--heap-growing-percent=50']));
  }, 60_000);

  it('a flag given in NODE_OPTIONS is left as the user set it', async () => {
    agent = await startAgent('heapflags-user', { env: { NODE_OPTIONS: '--max-semi-space-size=8' } });
    const argv = await argvOf(agent.info.pid);
    expect(argv.some((a) => a.startsWith('--max-semi-space-size'))).toBe(false);
    expect(argv).toContain('--heap-growing-percent=50');
  }, 60_000);

  it('a command that moves a repository of data (backup, without an agent) runs with them', async () => {
    const home = join(await tempDir('cairn-heapflags-cli-'), 'home');
    await cairnJson(['init'], { home });
    const env = { ...process.env, CAIRN_HOME: home, CAIRN_PASSPHRASE: TEST_PASSPHRASE };
    // a backup of stdin waits for its input: its command line can be read while it runs
    const proc = spawn(process.execPath, [CAIRN_BIN, 'backup', '--stdin', '--stdin-filename', 'x.bin'], { cwd: ROOT, env, stdio: ['pipe', 'ignore', 'pipe'] });
    const exited = new Promise<number | null>((r) => proc.once('exit', r));
    let argv: string[] = [];
    for (let i = 0; i < 100 && !argv.includes('--max-semi-space-size=4'); i++) {
      argv = await argvOf(proc.pid as number).catch(() => []);
      await sleep(100);
    }
    const environ = await envOf(proc.pid as number).catch(() => []);
    proc.stdin.end('some bytes');
    expect(await exited).toBe(0);
    expect(argv).toEqual(expect.arrayContaining(['--max-semi-space-size=4', '--heap-growing-percent=50']));
    expect(environ).toContain('MALLOC_ARENA_MAX=2');
  }, 60_000);

  it('an arena limit the user set is left as it is', async () => {
    agent = await startAgent('heapflags-arenas', { env: { MALLOC_ARENA_MAX: '4' } });
    const environ = await envOf(agent.info.pid);
    expect(environ).toContain('MALLOC_ARENA_MAX=4');
    expect(environ).not.toContain('MALLOC_ARENA_MAX=2');
  }, 60_000);
});
