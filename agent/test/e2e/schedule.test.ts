// Schedules in a real agent process: sources from cairn.yaml run on their cron slots and make
// snapshots that record the source, excludes hold, `cairn run --wait` and `cairn jobs` work through
// the real binary, and a scheduled backup that fails reaches a webhook receiver as a notification.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, test } from 'vitest';
import type { Job, LsResult, SnapshotsResult } from '../../../protocol/api.js';
import { API_TOKEN_HEADER } from '../../../protocol/api.js';
import { ROUTES } from '../../../protocol/console-api.js';
import { startAgent, type TestAgent } from '../helpers/agents.js';
import { cairn, initHome, tempDir } from '../helpers/cli.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';

describe('scheduled sources in a running agent', () => {
  let agent: TestAgent | undefined;
  let webhook: WebhookReceiver | undefined;
  afterAll(async () => {
    await agent?.stop();
    webhook?.close();
  });

  test('cron slots make snapshots with their source; excludes; run --wait; jobs; a failure notifies the webhook', async () => {
    const work = await tempDir('cairn-schedule-');
    const data = join(work, 'data');
    await mkdir(join(data, 'cache'), { recursive: true });
    await writeFile(join(data, 'keep.txt'), 'kept\n');
    await writeFile(join(data, 'scratch.tmp'), 'excluded\n');
    await writeFile(join(data, 'cache', 'big.bin'), 'excluded too\n');
    const home = await initHome();
    await writeFile(
      join(home, 'cairn.yaml'),
      [
        'sources:',
        '  - name: docs',
        `    paths: [${data}]`,
        '    exclude: ["*.tmp", "cache/"]',
        '    schedule: "*/3 * * * * *"',
        '  - name: broken',
        `    paths: [${join(work, 'does-not-exist')}]`,
        '    schedule: "*/4 * * * * *"',
        '  - name: manual',
        `    paths: [${data}]`,
        '  - name: broken-manual',
        `    paths: [${join(work, 'missing-too')}]`,
        '',
      ].join('\n'),
    );
    // a webhook receiver
    webhook = await startWebhookReceiver();
    const { received, port } = webhook;

    agent = await startAgent('scheduler', { home, existing: { recoveryPhrase: '' } });
    const a = agent;
    const set = await fetch(`${a.info.api}${ROUTES.notificationsSet.path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [API_TOKEN_HEADER]: a.info.token },
      body: JSON.stringify({
        webhook: { url: `http://127.0.0.1:${port}/hook`, headers: {} },
        email: null,
        staleAfterMs: 86_400_000,
        friendOfflineAfterMs: 86_400_000,
      }),
    });
    expect(set.status, await set.text()).toBe(200);

    // at least two scheduled snapshots of "docs", each recording its source
    let docs: SnapshotsResult = [];
    for (let i = 0; i < 100 && docs.length < 2; i++) {
      await sleep(300);
      docs = (await a.cli<SnapshotsResult>(['snapshots'])).filter((s) => s.source === 'docs');
    }
    expect(docs.length, a.log()).toBeGreaterThanOrEqual(2);
    const files = (await a.cli<LsResult>(['ls', docs[0]?.id ?? ''])).map((e) => e.path);
    expect(files).toContain(`${data}/keep.txt`);
    expect(files).not.toContain(`${data}/scratch.tmp`);
    expect(files.some((f) => f.startsWith(`${data}/cache`))).toBe(false);

    // the failing source reached the webhook
    for (let i = 0; i < 100 && !received.some((m) => m.kind === 'job-failed' && m.source === 'broken'); i++) await sleep(200);
    const note = received.find((m) => m.kind === 'job-failed' && m.source === 'broken');
    expect(note, JSON.stringify(received)).toBeDefined();
    expect(note?.message).toContain('does-not-exist');
    expect(note?.level).toBe('error');

    // jobs: scheduled runs recorded with outcome, snapshot, attempt
    const jobs = await a.cli<Job[]>(['jobs', '--source', 'docs']);
    expect(jobs.filter((j) => j.state === 'succeeded' && j.trigger === 'schedule' && j.snapshot).length).toBeGreaterThanOrEqual(2);
    const broken = await a.cli<Job[]>(['jobs', '--source', 'broken']);
    expect(broken.some((j) => j.state === 'failed' && /does-not-exist/.test(j.error ?? ''))).toBe(true);

    // cairn run --wait: a manual run of a source without a schedule
    const run = await a.cli<Job>(['run', 'manual', '--wait']);
    expect(run).toMatchObject({ state: 'succeeded', trigger: 'manual', source: 'manual' });
    const shown = await a.cli<Job>(['jobs', 'show', run.id]);
    expect(shown.log.join('\n')).toMatch(/snapshot [0-9a-f]{8}/);
    // progress: what was read, and the totals of the scan beside it (3 files, no excludes on "manual")
    expect(shown.progress).toMatchObject({ files: 3, totalFiles: 3 });
    expect(shown.progress.bytes).toBe(shown.progress.totalBytes);
    expect(shown.progress.bytes).toBeGreaterThan(0);
    const failing = await cairn(['run', 'broken-manual', '--wait'], { home });
    expect(failing.code, failing.stderr).toBe(1);
    expect(failing.stderr).toMatch(/^cairn: job \S+ failed: .*missing-too/m);
    expect(
      failing.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('cairn:')),
    ).toHaveLength(1);
    // recorded as one failed manual job
    const manualJobs = await a.cli<Job[]>(['jobs', '--source', 'broken-manual']);
    expect(manualJobs.map((j) => [j.trigger, j.attempt, j.state])).toEqual([['manual', 1, 'failed']]);
    const unknown = await cairn(['run', 'nope'], { home });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no source "nope"');
  });

  test('run and jobs without a running agent: one line saying so, exit 2', async () => {
    const home = await initHome();
    for (const args of [['jobs'], ['jobs', 'show', 'x'], ['run', 'docs', '--wait'], ['jobs', '--json']]) {
      const r = await cairn(args, { home });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/needs the running agent: start it with "cairn agent"/);
      expect(r.stdout).toBe('');
    }
  });
});
