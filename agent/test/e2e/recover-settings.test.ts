// Recovery brings the settings back (issue 21 item 8): an agent whose cairn.yaml has a scheduled
// directory source with retention, and whose notification settings were saved in the console,
// replicates to a friend; its home is lost; `cairn recover` on a fresh home, with the phrase, gets
// the same cairn.yaml and notifications.json back (mode 0600, and never their text on stdout); an
// agent started on the recovered home runs the schedule on its own.
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, test } from 'vitest';
import { API_TOKEN_HEADER, type Job, type ReplicateResult, type SnapshotsResult } from '../../../protocol/api.js';
import { ROUTES } from '../../../protocol/console-api.js';
import { pairAgents, startAgent, type TestAgent } from '../helpers/agents.js';
import { cairn, cairnJson, tempDir } from '../helpers/cli.js';

describe('recover brings the settings back', () => {
  const agents: TestAgent[] = [];
  afterAll(async () => {
    for (const a of agents) await a.stop();
  });

  test('cairn.yaml (sources, schedule, retention) and the notification settings come back, and the schedule runs on the recovered host', async () => {
    const work = await tempDir('cairn-recover-settings-');
    const data = join(work, 'data');
    await mkdir(data);
    await writeFile(join(data, 'notes.txt'), 'the data the schedule backs up\n');
    const config = (keep: number) =>
      [
        "# the lost host's settings",
        'sources:',
        '  - name: docs',
        `    paths: [${data}]`,
        '    schedule: "*/5 * * * * *"',
        '    retention:',
        `      keep-last: ${keep}`,
        '      keep-daily: 7',
        '',
      ].join('\n');

    const bob = await startAgent('bob');
    agents.push(bob);
    const home = join(work, 'alice');
    const { recoveryPhrase } = await cairnJson<{ recoveryPhrase: string }>(['init'], { home });
    await writeFile(join(home, 'cairn.yaml'), config(3));
    const alice = await startAgent('alice', { home, existing: { recoveryPhrase } });
    agents.push(alice);
    await pairAgents(bob, alice);

    // notification channels saved in the console, with a token in a header
    const notifications = {
      webhook: { url: 'http://127.0.0.1:9/hook', headers: { Authorization: 'Bearer tk_not_for_stdout' } },
      email: null,
      staleAfterMs: 86_400_000,
      friendOfflineAfterMs: 86_400_000,
    };
    const set = await fetch(`${alice.info.api}${ROUTES.notificationsSet.path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [API_TOKEN_HEADER]: alice.info.token },
      body: JSON.stringify(notifications),
    });
    expect(set.status, await set.text()).toBe(200);
    const savedNotifications = await readFile(join(home, 'notifications.json'), 'utf8');

    // a scheduled snapshot of docs; then cairn.yaml is edited while the agent runs (a reload)
    let docs: SnapshotsResult = [];
    for (let i = 0; i < 200 && docs.length === 0; i++) {
      await sleep(300);
      docs = (await alice.cli<SnapshotsResult>(['snapshots'])).filter((s) => s.source === 'docs');
    }
    expect(docs.length, alice.log()).toBeGreaterThan(0);
    await writeFile(join(home, 'cairn.yaml'), config(5));
    for (let i = 0; i < 100 && !alice.log().includes('config: file changed: reloaded'); i++) await sleep(200);
    expect(alice.log()).toContain('config: file changed: reloaded');
    const round = await alice.cli<ReplicateResult>(['replicate', '--wait']);
    expect(round.underReplicated).toBe(0);

    // the host is lost
    await alice.stop();
    await rm(home, { recursive: true, force: true });

    const { code } = await bob.cli<{ code: string }>(['invite']);
    const recovered = join(work, 'alice-recovered');
    const r = await cairn(['recover', '--invite', code, '--json'], { home: recovered, env: { CAIRN_RECOVERY_PHRASE: recoveryPhrase } });
    expect(r.code, r.stderr).toBe(0);
    const rec = JSON.parse(r.stdout) as { snapshots: number; warnings: string[]; settings: Array<{ file: string; path: string; beside: boolean }> };
    expect(rec.warnings).toEqual([]);
    expect(rec.snapshots).toBeGreaterThan(0);
    expect(rec.settings).toEqual([
      { file: 'cairn.yaml', path: join(recovered, 'cairn.yaml'), beside: false },
      { file: 'notifications.json', path: join(recovered, 'notifications.json'), beside: false },
    ]);
    // the texts are in the files, never on stdout
    expect(r.stdout + r.stderr).not.toContain('tk_not_for_stdout');
    expect(r.stdout).not.toContain('keep-last');
    // the edited cairn.yaml, byte for byte, and the notification settings
    expect(await readFile(join(recovered, 'cairn.yaml'), 'utf8')).toBe(config(5));
    expect(await readFile(join(recovered, 'notifications.json'), 'utf8')).toBe(savedNotifications);
    for (const f of ['cairn.yaml', 'notifications.json']) expect((await stat(join(recovered, f))).mode & 0o777).toBe(0o600);
    const checked = await cairn(['config', 'check'], { home: recovered });
    expect(checked.code, checked.stderr).toBe(0);

    // an agent on the recovered home runs the schedule by itself: a new scheduled snapshot of docs
    const before = new Set((await cairnJson<SnapshotsResult>(['snapshots'], { home: recovered })).map((s) => s.id));
    const again = await startAgent('alice-again', { home: recovered, existing: { recoveryPhrase } });
    agents.push(again);
    let scheduled: Job | undefined;
    for (let i = 0; i < 200 && !scheduled; i++) {
      await sleep(300);
      scheduled = (await again.cli<Job[]>(['jobs', '--source', 'docs'])).find(
        (j) => j.trigger === 'schedule' && j.state === 'succeeded' && j.snapshot !== null,
      );
    }
    expect(scheduled, again.log()).toBeDefined();
    expect(before.has(scheduled?.snapshot ?? '')).toBe(false);
    const after = await again.cli<SnapshotsResult>(['snapshots']);
    expect(after.find((s) => s.id === scheduled?.snapshot)?.source).toBe('docs');
    // and its notification settings are the recovered ones
    const shown = await fetch(`${again.info.api}${ROUTES.notificationsGet.path}`, { headers: { [API_TOKEN_HEADER]: again.info.token } });
    const got = (await shown.json()) as { settings: { webhook: { url: string; headers: Record<string, string> } | null } };
    expect(got.settings.webhook).toEqual(notifications.webhook);
  }, 300_000);
});
