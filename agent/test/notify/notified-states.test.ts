// A source's 3-2-1 state is notified once per change, also across restarts: the states notified
// are kept in notified.json, so an agent that starts again (a new Notifier on the same home) does
// not send "at risk" a second time, and does send "protected again" when it changes. A damaged file
// is logged and the notifier starts afresh. Real files, a real HTTP webhook on loopback.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { SourceStatus } from '../../../protocol/console-api.js';
import { Notifier } from '../../src/notify/notifier.js';
import { NOTIFIED_FILE } from '../../src/repo/home.js';
import { systemClock } from '../../src/util/clock.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';

let webhook: WebhookReceiver;
let home = '';

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'cairn-notified-'));
  webhook = await startWebhookReceiver();
});

afterAll(async () => {
  webhook.close();
  await rm(home, { recursive: true, force: true });
});

function source(state: 'protected' | 'at risk'): SourceStatus {
  return {
    name: 'photos',
    protection: {
      state,
      reason: state === 'protected' ? 'every pack at 2 friends' : 'bob holds 3 of 10 packs',
      nextStep: state === 'protected' ? null : 'ask bob for more space',
    },
  } as unknown as SourceStatus;
}

async function notifier(log: string[] = []): Promise<Notifier> {
  const n = await Notifier.open({ home, clock: systemClock, agentName: 'alice', log: (l) => log.push(l) });
  await n.set({ ...n.get(), webhook: { url: webhook.url, headers: {} } });
  return n;
}

it('a state notified before a restart is not sent again after it; the next change is', async () => {
  const first = await notifier();
  await first.protection([source('at risk')]);
  expect(webhook.received.map((m) => m.title)).toEqual(['Cairn: photos is at risk']);
  expect(JSON.parse(await readFile(join(home, NOTIFIED_FILE), 'utf8'))).toEqual({ version: 1, sources: { photos: 'at risk' } });

  // the agent restarts: the same state is not news
  const second = await notifier();
  await second.protection([source('at risk')]);
  expect(webhook.received).toHaveLength(1);
  await second.protection([source('protected')]);
  expect(webhook.received.map((m) => m.title)).toEqual(['Cairn: photos is at risk', 'Cairn: photos is protected again']);

  // a damaged file: logged, and the notifier starts afresh (a first "protected" is never sent)
  await writeFile(join(home, NOTIFIED_FILE), '{"version":1,"sources":');
  const log: string[] = [];
  const third = await notifier(log);
  expect(log.join('\n')).toMatch(/notified\.json is damaged/);
  await third.protection([source('protected')]);
  expect(webhook.received).toHaveLength(2);
});
