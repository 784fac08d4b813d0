// The 3-2-1 status of a source with real agents and a real browser: alice (replicas 1) keeps her
// copies at bob, who granted her 16 MiB. A first backup fits: "protected". A second one outgrows
// bob's grant: the source is "at risk", with the next step "bob's grant is full: ask bob for more
// space or add a friend", in `cairn status` (exit 1), `cairn peers`, /metrics, the dashboard and one
// notification at a local webhook receiver. Bob raises the grant (the `cairn grant` command is
// another helper's work: here bob is stopped, his friends ledger's grant to alice raised directly
// through the ledger API, he is restarted, and alice re-pairs with a new invite of his so that she
// learns the raised grant, as pairing with a known friend does), the next round copies the rest,
// and the source is "protected" again: one more notification, and the dashboard says so.
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { API_TOKEN_HEADER, type PeersResult } from '../../../protocol/api.js';
import { ROUTES, type NotificationMessage, type StatusResult } from '../../../protocol/console-api.js';
import { Friends } from '../../src/mesh/friend-ledger.js';
import { openStateDb } from '../../src/state/db.js';
import { pairAgents, startAgent, type TestAgent } from '../helpers/agents.js';
import { describeBrowser, launchBrowser, loggedInPage } from '../helpers/browser.js';
import { cairn, tempDir } from '../helpers/cli.js';
import { freePort } from '../helpers/mesh-hosted.js';
import { writeSampleTree } from '../helpers/sample-tree.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';

const MIB = 1024 * 1024;

describeBrowser('the 3-2-1 status of a source', () => {
  let alice: TestAgent;
  let bob: TestAgent;
  let bobPort: number;
  let browser: Browser | undefined;
  let webhook: WebhookReceiver | undefined;
  const received = (): NotificationMessage[] => webhook?.received ?? [];

  const startBob = (home?: string) =>
    startAgent('bob', {
      ...(home ? { home, existing: { recoveryPhrase: bob.recoveryPhrase } } : {}),
      extraArgs: ['--listen', `/ip4/127.0.0.1/tcp/${bobPort}`],
    });

  beforeAll(async () => {
    bobPort = await freePort();
    alice = await startAgent('alice', { replicas: 1 });
    bob = await startBob();
    await pairAgents(alice, bob, '1G', '16M'); // bob grants alice 16 MiB
    webhook = await startWebhookReceiver();
  });
  afterAll(async () => {
    await browser?.close();
    await alice?.stop();
    await bob?.stop();
    webhook?.close();
  });

  const status = async () => {
    const r = await cairn(['status', '--json'], { home: alice.home });
    return { code: r.code, s: JSON.parse(r.stdout) as StatusResult };
  };
  const stateNotes = () => received().filter((m) => m.kind === 'source-state');
  /** Waits (bounded) until the webhook has received `n` state notifications. */
  const notes = async (n: number) => {
    for (let i = 0; i < 200 && stateNotes().length < n; i++) await sleep(100);
    return stateNotes();
  };
  const dashboardState = async (page: Page, want: string) => {
    await page.waitForSelector(`td.protection [data-state="${want}"]`, { timeout: 20_000 });
    return (await page.textContent('td.protection')) ?? '';
  };

  test('protected -> at risk as bob fills up -> protected when his grant is raised; one notification each way', async () => {
    const work = await tempDir('cairn-protection-');
    const data = join(work, 'data');
    await writeSampleTree(data, { seed: 5, entries: [{ kind: 'random', path: 'a.bin', size: 4 * MIB }] });
    await alice.cliOk(['backup', data]);
    await cairn(['replicate', '--wait'], { home: alice.home });
    let st = await status();
    expect(st.code).toBe(0);
    const src = () => st.s.sources.find((x) => x.name === data);
    expect(src()?.protection).toMatchObject({ state: 'protected', local: true, wantedCopies: 1, copies: 1, nextStep: null });

    // notifications go to a local webhook from now on
    const port = (webhook as WebhookReceiver).port;
    const set = await fetch(`${alice.info.api}${ROUTES.notificationsSet.path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [API_TOKEN_HEADER]: alice.info.token },
      body: JSON.stringify({
        webhook: { url: `http://127.0.0.1:${port}/hook`, headers: {} },
        email: null,
        staleAfterMs: 86_400_000,
        friendOfflineAfterMs: 86_400_000,
      }),
    });
    expect(set.status, await set.text()).toBe(200);
    browser = await launchBrowser();
    const page = await loggedInPage(browser, alice);
    // words stay apart ("copies; never", not "copies;never": htm drops whitespace holding a line break)
    expect(await dashboardState(page, 'protected')).toMatch(/1 of 1 off-site copies; (last proved|never proved)/);
    expect(await page.textContent('main')).toMatch(/At friends:\s+[\d.]+ \w?i?B of [\d.]+ \w?i?B/);

    // the source grows past bob's 16 MiB grant
    await writeSampleTree(join(data, 'more'), { seed: 6, entries: [{ kind: 'random', path: 'b.bin', size: 20 * MIB }] });
    await alice.cliOk(['backup', data]);
    await cairn(['replicate', '--wait'], { home: alice.home });
    st = await status();
    expect(st.code).toBe(1);
    expect(src()?.protection?.state).toBe('at risk');
    expect(src()?.protection?.nextStep).toMatch(/^bob's grant is full \(.* of 16\.0 MiB used\): ask bob for more space or add a friend$/);
    expect(st.s.alerts.find((a) => a.kind === 'source-at-risk')?.message).toContain(`${data} is at risk`);
    const text = await cairn(['status'], { home: alice.home });
    expect(text.stdout).toContain(`${data}: AT RISK: a local copy, 0 of 1 off-site copies`);
    expect(text.stdout).toContain("next step: bob's grant is full");
    const peers = await cairn(['peers'], { home: alice.home });
    expect(peers.stdout).toMatch(/shortfall at bob: .*\(bob's grant is full: ask bob for more space or add a friend\)/);
    const metrics = await (await fetch(`${alice.info.api}/metrics`, { headers: { [API_TOKEN_HEADER]: alice.info.token } })).text();
    expect(metrics).toContain(`cairn_source_protection{source="${data}",state="at risk"} 1`);
    expect(metrics).toContain(`cairn_source_offsite_copies{source="${data}"} 0`);
    expect(metrics).toContain(`cairn_source_offsite_copies_wanted{source="${data}"} 1`);
    expect(metrics).toMatch(/cairn_source_seconds_since_proof\{source="[^"]+"\} -?\d+/);
    const down = await notes(1);
    expect(down).toHaveLength(1);
    expect(down[0]).toMatchObject({ level: 'warning', title: `Cairn: ${data} is at risk`, source: data });
    expect(down[0]?.message).toContain("Next step: bob's grant is full");
    expect(await dashboardState(page, 'at risk')).toContain("Next step: bob's grant is full");

    // bob raises the grant (test-only path, see the header), alice learns it by re-pairing
    await bob.stop();
    const { db, sub } = await openStateDb(join(bob.home, 'state'));
    await new Friends(sub).update(alice.info.peerId, (f) => (f.grantToPeer = 1024 * MIB));
    await db.close();
    bob = await startBob(bob.home);
    await pairAgents(bob, alice, '1G');
    expect((await alice.cli<PeersResult>(['peers'])).find((p) => p.name === 'bob')?.grantFromPeer).toBe(1024 * MIB);
    await cairn(['replicate', '--wait'], { home: alice.home });
    st = await status();
    expect(st.code, JSON.stringify(st.s.alerts)).toBe(0);
    expect(src()?.protection).toMatchObject({ state: 'protected', copies: 1, nextStep: null });
    const both = await notes(2);
    expect(both).toHaveLength(2);
    expect(both[1]).toMatchObject({ level: 'info', title: `Cairn: ${data} is protected again`, source: data });
    expect(await dashboardState(page, 'protected')).not.toContain('Next step');
    // nothing more was sent about it (one each way), however often the state was checked meanwhile
    await alice.cliOk(['peers']);
    await sleep(500);
    expect(stateNotes()).toHaveLength(2);
  }, 300_000);
});
