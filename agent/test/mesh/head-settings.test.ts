// The settings a head carries (SPEC 13.5): cairn.yaml and notifications.json sealed with the rest of
// the head's state, read back by the owner only; heads without them (older agents) still open;
// a head made without a settings source keeps the previous head's; and a settings file larger than
// MAX_HEAD_SETTINGS_BYTES is left out, with a line saying so, instead of riding along.
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MAX_HEAD_SETTINGS_BYTES, MAX_MESSAGE_BYTES, parseSignedHead } from '../../../protocol/mesh.js';
import { seal } from '../../src/crypto/aead.js';
import { nextHead, openState, sealState, signHead, verifyHead } from '../../src/mesh/head-chain.js';
import type { Stores } from '../../src/compose-root.js';
import type { Repository } from '../../src/repo/repository.js';
import { initStores } from '../helpers/stores.js';

const CONFIG = ['sources:', '  - name: docs', '    paths: [/srv/docs]', '    schedule: "0 * * * *"', '    retention:', '      keep-daily: 7', ''].join('\n');
const NOTIFICATIONS = JSON.stringify({
  webhook: { url: 'https://ntfy.example.org/', headers: { Authorization: 'Bearer tk_secret' }, topic: 'nas' },
  email: null,
});

let dir: string;
let repo: Repository;
let stores: Stores;
let key: PrivateKey;
let t = 0;
const now = () => new Date(Date.UTC(2026, 11, 5, 8, 0, t++));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cairn-head-settings-'));
  stores = await initStores(join(dir, 'home'), 'a passphrase for the head tests', now());
  repo = stores.repo;
  key = await generateKeyPair('Ed25519');
});

afterAll(async () => {
  await stores.close();
  await rm(dir, { recursive: true, force: true });
});

describe('settings in the head', () => {
  test('carried sealed: the owner reads them back after the wire round trip; the head as sent holds no text of them', async () => {
    const { head, changed } = await nextHead(repo, stores.ledgers.ownHead, key, [], now(), { settings: { config: CONFIG, notifications: NOTIFICATIONS } });
    expect(changed).toBe(true);
    // as a friend receives it, and as a recovering owner gets it back
    const wire = parseSignedHead(JSON.parse(JSON.stringify(head)));
    expect(await verifyHead(key.publicKey, wire)).toBe(true);
    expect(openState(repo, wire.head).settings).toEqual({ config: CONFIG, notifications: NOTIFICATIONS });
    const sent = JSON.stringify(wire);
    for (const clear of ['/srv/docs', 'keep-daily', 'tk_secret', 'ntfy.example.org']) expect(sent).not.toContain(clear);
  });

  test('the same settings make no new head; a changed config does; no source (the CLI) keeps what the previous head carried', async () => {
    const first = await nextHead(repo, stores.ledgers.ownHead, key, [], now(), { settings: { config: CONFIG, notifications: NOTIFICATIONS } });
    expect(first.changed).toBe(false);
    const edited = CONFIG.replace('keep-daily: 7', 'keep-daily: 14');
    const second = await nextHead(repo, stores.ledgers.ownHead, key, [], now(), { settings: { config: edited } });
    expect(second.changed).toBe(true);
    expect(second.head.head.seq).toBe(first.head.head.seq + 1);
    // notifications not offered (undefined): kept from the previous head
    expect(openState(repo, second.head.head).settings).toEqual({ config: edited, notifications: NOTIFICATIONS });
    const cli = await nextHead(repo, stores.ledgers.ownHead, key, [], now());
    expect(cli.changed).toBe(false);
    // a removed file (null) is carried no more
    const removed = await nextHead(repo, stores.ledgers.ownHead, key, [], now(), { settings: { notifications: null } });
    expect(removed.changed).toBe(true);
    expect(openState(repo, removed.head.head).settings).toEqual({ config: edited });
  });

  test('heads of older agents open: a bare friend array, and a state without settings; unknown fields are ignored', async () => {
    const base = (sealedFriends: string) => ({
      version: 1 as const,
      repoId: repo.config.repoId,
      seq: 1,
      prev: null,
      time: now().toISOString(),
      snapshots: [],
      chunker: repo.config.chunker,
      sealedFriends,
    });
    const bare = seal(repo.keys.meta, Buffer.from('[]'), Buffer.from('cairn/v1/head-friends')).toString('base64');
    expect(openState(repo, base(bare))).toEqual({ friends: [], pins: {}, settings: {} });
    const noSettings = sealState(repo, [], new Map([['a'.repeat(64), '2026-12-01T00:00:00.000Z']]));
    expect(openState(repo, base(noSettings))).toEqual({ friends: [], pins: { ['a'.repeat(64)]: '2026-12-01T00:00:00.000Z' }, settings: {} });
    const future = seal(
      repo.keys.meta,
      Buffer.from(JSON.stringify({ friends: [], pins: {}, settings: { config: CONFIG, secrets: 'x' }, laterField: 1 })),
      Buffer.from('cairn/v1/head-friends'),
    ).toString('base64');
    expect(openState(repo, base(future))).toEqual({ friends: [], pins: {}, settings: { config: CONFIG } });
    // and such a head still goes through the wire parser and signature
    const signed = await signHead(key, base(noSettings));
    expect(await verifyHead(key.publicKey, parseSignedHead(JSON.parse(JSON.stringify(signed))))).toBe(true);
  });

  test('a cairn.yaml larger than MAX_HEAD_SETTINGS_BYTES is left out with a line saying so, once; the rest still rides', async () => {
    const lines: string[] = [];
    const log = (l: string) => lines.push(l);
    // 300 KiB: carried, it would make a head larger than any message a friend takes
    const huge = `# ${'x'.repeat(300 * 1024)}\n${CONFIG}`;
    const r = await nextHead(repo, stores.ledgers.ownHead, key, [], now(), { settings: { config: huge, notifications: NOTIFICATIONS }, log });
    expect(r.changed).toBe(true);
    expect(openState(repo, r.head.head).settings).toEqual({ notifications: NOTIFICATIONS });
    expect(Buffer.byteLength(JSON.stringify(r.head))).toBeLessThan(MAX_MESSAGE_BYTES);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^head: cairn\.yaml \(\d+ bytes\) is left out of the snapshot list sent to friends: a head carries at most 32 KiB of settings/);
    // the next round with the same file makes no new head and no new line
    const again = await nextHead(repo, stores.ledgers.ownHead, key, [], now(), { settings: { config: huge, notifications: NOTIFICATIONS }, log });
    expect(again.changed).toBe(false);
    expect(lines).toHaveLength(1);
    // just within the bound: carried
    const fits = `# ${'y'.repeat(MAX_HEAD_SETTINGS_BYTES - NOTIFICATIONS.length - 200)}\n`;
    const ok = await nextHead(repo, stores.ledgers.ownHead, key, [], now(), { settings: { config: fits, notifications: NOTIFICATIONS }, log });
    expect(openState(repo, ok.head.head).settings).toEqual({ config: fits, notifications: NOTIFICATIONS });
  });
});
