// A configured source with Docker label selectors, run through a real agent (`cairn run --wait`)
// against the real engine: the selectors are resolved at run time (a volume labelled later is picked
// up by the next run), by a volume's own label or by a label of a container mounting it; the
// snapshot records the source and a volume:NAME tag per volume; a selector matching nothing fails
// the job with a clear reason.
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Job, SnapshotsResult } from '../../../protocol/api.js';
import { startAgent, type TestAgent } from '../helpers/agents.js';
import { cairn, initHome } from '../helpers/cli.js';
import { DockerScratch, describeDocker } from '../helpers/docker-env.js';

describeDocker('volume label selectors', () => {
  const scratch = new DockerScratch('selectors');
  const uniq = `${process.pid}-${randomBytes(4).toString('hex')}`;
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

  test('picked at run time by volume or container label; snapshot records source and volumes', async () => {
    const byVolume = await scratch.volume('own-label', { 'cairn.test-select': uniq });
    const byContainer = await scratch.volume('container-label');
    const other = await scratch.volume('not-selected', { 'cairn.test-select': 'someone-else' });
    await scratch.container('user', { volumes: [byContainer], mode: 'run', script: 'echo from-container > /data/f', labels: { 'cairn.test-group': uniq } });
    await scratch.container('other', { volumes: [other], mode: 'run', script: 'echo other > /data/f' });
    await writeFile(
      join(home, 'cairn.yaml'),
      [
        'sources:',
        '  - name: labelled',
        `    volume-selectors: ["cairn.test-select=${uniq}", "cairn.test-group=${uniq}"]`,
        '  - name: nothing',
        `    volume-selectors: ["cairn.test-none=${uniq}"]`,
        '',
      ].join('\n'),
    );
    agent = await startAgent('selectors', { home, existing: { recoveryPhrase: '' } });
    const a = agent;

    const run = await a.cli<Job>(['run', 'labelled', '--wait']);
    expect(run, a.log()).toMatchObject({ state: 'succeeded', source: 'labelled', kind: 'backup' });
    const snap = (await a.cli<SnapshotsResult>(['snapshots'])).find((s) => s.id === run.snapshot);
    expect(snap?.source).toBe('labelled');
    expect(snap?.tags.filter((t) => t.startsWith('volume:')).sort()).toEqual([`volume:${byContainer}`, `volume:${byVolume}`].sort());
    const shown = await a.cli<Job>(['jobs', 'show', run.id]);
    expect(shown.log.join('\n')).toContain('picked:');
    expect(shown.log.join('\n')).not.toContain(other);

    // a volume labelled after the agent started is picked up by the next run
    const later = await scratch.volume('later', { 'cairn.test-select': uniq });
    const again = await a.cli<Job>(['run', 'labelled', '--wait']);
    const snap2 = (await a.cli<SnapshotsResult>(['snapshots'])).find((s) => s.id === again.snapshot);
    expect(snap2?.tags).toContain(`volume:${later}`);
    expect(snap2?.parent).toBe(run.snapshot);

    // a selector matching no volume: the job fails, saying so
    const none = await cairn(['run', 'nothing', '--wait'], { home });
    expect(none.code, none.stderr).toBe(1);
    expect(none.stderr).toMatch(/nothing to back up right now/);
    const failed = (await a.cli<Job[]>(['jobs', '--source', 'nothing']))[0];
    expect(failed).toMatchObject({ state: 'failed', trigger: 'manual' });
  });
});
