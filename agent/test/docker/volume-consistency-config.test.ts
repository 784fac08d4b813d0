// Consistency set in cairn.yaml instead of container labels, through a real agent (`cairn run
// --wait`) and the real engine: a source's `consistency:` stops the unlabelled container that
// writes to its volume for the snapshot (and starts it again), runs exec-before inside the named
// container first (its output in the job log, what it wrote in the snapshot); a failing exec-before
// fails the job with its exit code and output, and the container keeps running.
import { rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Job, LsResult } from '../../../protocol/api.js';
import { startAgent, type TestAgent } from '../helpers/agents.js';
import { cairnJson, initHome } from '../helpers/cli.js';
import { DockerScratch, describeDocker, WRITER_SCRIPT } from '../helpers/docker-env.js';

describeDocker('consistency from cairn.yaml', () => {
  const scratch = new DockerScratch('consistency');
  let home: string;
  let agent: TestAgent | undefined;

  beforeAll(async () => {
    home = await initHome();
  });
  afterAll(async () => {
    await agent?.stop();
    await scratch.cleanup();
    if (home) await rm(dirname(home), { recursive: true, force: true });
  });

  test('stop and exec-before from the source override the (absent) labels; a failing exec-before fails the job', async () => {
    const vol = await scratch.volume('data');
    const writer = await scratch.container('writer', { volumes: [vol], mode: 'detach', script: WRITER_SCRIPT });
    const startedBefore = (await scratch.inspect(writer)).State.StartedAt;
    await writeFile(
      join(home, 'cairn.yaml'),
      [
        'sources:',
        '  - name: app',
        `    volumes: [${vol}]`,
        '    consistency:',
        '      stop: true',
        '      exec-before: "echo dumped-by-config > /data/dump.txt && echo dump done"',
        `      exec-container: ${writer}`,
        '      exec-timeout: 30s',
        '  - name: broken',
        `    volumes: [${vol}]`,
        '    consistency:',
        '      exec-before: "echo cannot dump; exit 3"',
        '',
      ].join('\n'),
    );
    agent = await startAgent('consistency', { home, existing: { recoveryPhrase: '' } });
    const a = agent;

    const run = await a.cli<Job>(['run', 'app', '--wait']);
    expect(run, a.log()).toMatchObject({ state: 'succeeded', source: 'app' });
    const log = (await a.cli<Job>(['jobs', 'show', run.id])).log.join('\n');
    expect(log).toMatch(/exec\.before/);
    expect(log).toContain('dump done');
    expect(log).toMatch(new RegExp(`${writer}: stop`));
    // stopped for the snapshot and running again afterwards (a new start time)
    const after = (await scratch.inspect(writer)).State;
    expect(after.Running).toBe(true);
    expect(after.StartedAt).not.toBe(startedBefore);
    // what exec-before wrote is in the snapshot
    const listed = await cairnJson<LsResult>(['ls', run.snapshot as string], { home });
    expect(JSON.stringify(listed)).toContain('dump.txt');

    const broken = await a.cli<Job>(['run', 'broken', '--wait']).catch((err: unknown) => err as Error);
    expect(broken).toBeInstanceOf(Error);
    const failed = (await a.cli<Job[]>(['jobs', '--source', 'broken']))[0] as Job;
    expect(failed.state).toBe('failed');
    expect(failed.error).toMatch(/exit(ed)? (code )?3/);
    expect(failed.log.join('\n')).toContain('cannot dump');
    expect((await scratch.inspect(writer)).State.Running).toBe(true);
  });
});
