// cairn.yaml end to end, through the real binary and a real agent process: an invalid file stops
// the agent before it starts (exit 2, every problem with its line); `cairn config check`; a running
// agent reloads on file change and on SIGHUP, keeps its config when the new file is invalid, and
// takes the next valid one.
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, test } from 'vitest';
import { API_TOKEN_HEADER } from '../../../protocol/api.js';
import type { CairnConfig } from '../../../protocol/config.js';
import { startAgent, type TestAgent } from '../helpers/agents.js';
import { cairn, initHome } from '../helpers/cli.js';

const BAD = ['replicas: 2', 'sources:', '  - name: photos', '    paths: [/srv/photos]', '    schedule: "0 25 * * *"', 'bandwith-limit: 5M', ''].join('\n');

describe('an invalid cairn.yaml', () => {
  test('stops `cairn agent` before anything starts: exit 2, each problem with its line', async () => {
    const home = await initHome();
    await writeFile(join(home, 'cairn.yaml'), BAD);
    const r = await cairn(['agent', '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0'], { home });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'cairn: cairn.yaml:5: sources[0].schedule: "0 25 * * *" is not a valid cron expression (hour: 25 is a invalid expression for hour)',
    );
    expect(r.stderr).toContain('cairn: cairn.yaml:6: bandwith-limit: unknown key (did you mean "bandwidth-limit"?)');
    expect(existsSync(join(home, 'agent.json'))).toBe(false);
  });

  test('`cairn config check` names the problems (exit 2), then accepts the fixed file and prints it (--json)', async () => {
    const home = await initHome();
    const file = join(home, 'other.yaml');
    await writeFile(file, BAD);
    const bad = await cairn(['config', 'check', '--config', file], { home });
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(2);
    await writeFile(file, BAD.replace('0 25 * * *', '0 2 * * *').replace('bandwith', 'bandwidth'));
    const good = await cairn(['config', 'check', '--config', file, '--json'], { home });
    expect(good.code).toBe(0);
    const out = JSON.parse(good.stdout) as { file: string; config: CairnConfig };
    expect(out.file).toBe(file);
    expect(out.config.bandwidthBytesPerSec).toBe(5 * 1024 ** 2);
    expect(out.config.sources[0]?.schedule).toBe('0 2 * * *');
    // --config names a file that must exist; the home's own cairn.yaml may be absent (defaults)
    const missing = await cairn(['config', 'check', '--config', join(home, 'nope.yaml')], { home });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('nope.yaml: cannot read the config file: no such file');
    const defaults = await cairn(['config', 'check'], { home });
    expect(defaults.code).toBe(0);
    expect(defaults.stdout).toContain('  LAN discovery (mDNS) on, port mapping on the router on');
    await writeFile(file, 'lan-discovery: false\nport-mapping: false\n');
    expect((await cairn(['config', 'check', '--config', file], { home })).stdout).toContain('  LAN discovery (mDNS) off, port mapping on the router off');
  });
});

describe('a running agent reloads its config', () => {
  let agent: TestAgent | undefined;
  afterAll(async () => agent?.stop());

  const running = async (a: TestAgent): Promise<CairnConfig> => {
    const res = await fetch(`${a.info.api}/api/v1/ops/config`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [API_TOKEN_HEADER]: a.info.token },
      body: '{}',
    });
    expect(res.status).toBe(200);
    return (await res.json()) as CairnConfig;
  };
  /** Polls until `ok` holds for the running config (reloads are asynchronous), or fails with the agent's log. */
  const until = async (a: TestAgent, ok: (c: CairnConfig) => boolean, what: string): Promise<CairnConfig> => {
    for (let i = 0; i < 100; i++) {
      const c = await running(a);
      if (ok(c)) return c;
      await sleep(100);
    }
    throw new Error(`the agent never showed ${what}; log:\n${a.log()}`);
  };
  const logLines = (a: TestAgent, needle: string) =>
    a
      .log()
      .split('\n')
      .filter((l) => l.includes(needle)).length;

  test('file change and SIGHUP: invalid keeps the old config, valid replaces it, flags still win', async () => {
    const home = await initHome();
    const file = join(home, 'cairn.yaml');
    await writeFile(file, 'bandwidth-limit: 1M\nreplicas: 5\n');
    // --replicas on the command line overrides the file, also after reloads
    agent = await startAgent('reloader', { home, existing: { recoveryPhrase: '' }, replicas: 2 });
    const a = agent;
    let c = await running(a);
    expect(c.bandwidthBytesPerSec).toBe(1024 ** 2);
    expect(c.replicas).toBe(2);

    // an invalid edit: logged with its line, the running config stays
    await writeFile(file, 'bandwidth-limit: lots\n');
    // the headline and the error under it are separate log writes: wait for the error itself
    await expect.poll(() => a.log(), { timeout: 10_000 }).toContain('config:   cairn.yaml:1: bandwidth-limit: "lots" is not a size');
    expect(logLines(a, 'is invalid; keeping the running config')).toBe(1);
    expect((await running(a)).bandwidthBytesPerSec).toBe(1024 ** 2);

    // the same invalid file on SIGHUP: logged again, still the old config
    process.kill(a.info.pid, 'SIGHUP');
    for (let i = 0; i < 100 && logLines(a, 'SIGHUP, but the new') < 1; i++) await sleep(100);
    expect(logLines(a, 'SIGHUP, but the new')).toBe(1);
    expect((await running(a)).bandwidthBytesPerSec).toBe(1024 ** 2);
    expect(a.proc.exitCode).toBeNull();

    // a valid file, written by replacing it (as editors do): taken
    await writeFile(`${file}.tmp`, 'bandwidth-limit: 2M\nreplicas: 7\nsources:\n  - name: docs\n    paths: [/srv/docs]\n');
    await rm(file);
    await writeFile(file, await readFile(`${file}.tmp`));
    c = await until(a, (x) => x.bandwidthBytesPerSec === 2 * 1024 ** 2, 'the 2M limit');
    expect(c.sources.map((s) => s.name)).toEqual(['docs']);
    expect(c.replicas).toBe(2);

    // a valid change applied by SIGHUP alone (watching may miss nothing here, but SIGHUP must work by itself)
    await writeFile(file, 'bandwidth-limit: 3M\n');
    process.kill(a.info.pid, 'SIGHUP');
    c = await until(a, (x) => x.bandwidthBytesPerSec === 3 * 1024 ** 2, 'the 3M limit');
    expect(c.sources).toEqual([]);

    // friends.grant is what an invite offers when --quota is not given
    await writeFile(file, 'friends:\n  grant: 3G\n');
    expect((await a.cli<{ quotaBytes: number }>(['invite'])).quotaBytes).toBe(3 * 1024 ** 3);
    expect((await a.cli<{ quotaBytes: number }>(['invite', '--quota', '1G'])).quotaBytes).toBe(1024 ** 3);
  });
});
