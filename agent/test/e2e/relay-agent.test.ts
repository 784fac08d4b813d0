// `cairn relay` on loopback, with real agents (`cairn agent`) from dist/: the relay has a home of its
// own (a key and a friend book, no repository), issues invites friends pair with at quota 0, and
// says who it serves (`cairn relay status --json`). A friend paired with the relay never counts it
// as a place for copies nor sends it the snapshot list: alice (--replicas 2) with the relay and one
// real friend has every pack at the copies it can have and a round without problems. Through
// namespaces (friends behind CGNAT) the relay is tested in nat/relay-agent.test.ts.
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { API_TOKEN_HEADER, type PeerListing, type ReplicateResult } from '../../../protocol/api.js';
import { pairAgents, startAgent, type TestAgent } from '../helpers/agents.js';
import { cairn, initHome, tempDir } from '../helpers/cli.js';
import { startRelay, type TestRelay } from '../helpers/relay-agent.js';

describe('cairn relay on loopback', () => {
  let relay: TestRelay;
  let alice: TestAgent;
  let bob: TestAgent;
  const dirs: string[] = [];

  beforeAll(async () => {
    relay = await startRelay('relay');
    alice = await startAgent('alice', { replicas: 2 });
    bob = await startAgent('bob');
    for (const a of [alice, bob]) await a.cli(['pair', await relay.invite(), '--quota', '0']);
    await pairAgents(alice, bob);
  }, 120_000);

  afterAll(async () => {
    for (const a of [alice, bob]) await a?.stop();
    await relay?.destroy();
    for (const d of [...dirs, ...[alice, bob].filter(Boolean).map((a) => join(a.home, '..'))]) await rm(d, { recursive: true, force: true });
  });

  test('the relay keeps a key and a friend book, no repository; status names its friends', async () => {
    expect((await readdir(relay.home)).sort()).toEqual(['relay-key', 'relay.json', 'state']);
    const s = await relay.status();
    expect(s.peerId).toBe(relay.info.peerId);
    expect(s.friends.map((f) => f.name).sort()).toEqual(['alice', 'bob']);
    expect(s.friends.every((f) => f.online)).toBe(true);
    const atAlice = (await alice.cli<PeerListing[]>(['peers'])).find((p) => p.name === 'relay');
    expect(atAlice).toMatchObject({ grantFromPeer: 0, grantToPeer: 0, online: true });
  });

  test('a friend that offers no space (the relay) is no replication target: every pack gets the copies it can, no problem named', async () => {
    const src = await tempDir('cairn-relay-src-');
    dirs.push(src);
    await mkdir(join(src, 'd'), { recursive: true });
    await writeFile(join(src, 'd', 'a.txt'), 'through a friend, not the relay\n'.repeat(1000));
    await alice.cli(['backup', src]);
    const r = await alice.cli<ReplicateResult>(['replicate', '--wait']);
    expect(r.wantedCopies).toBe(1);
    expect(r.underReplicated).toBe(0);
    expect(r.problems).toEqual([]);
    const atAlice = (await alice.cli<PeerListing[]>(['peers'])).find((p) => p.name === 'relay');
    expect(atAlice).toMatchObject({ packsAtPeer: 0, problems: [], shortfall: null });
  });

  test("the relay's API answers only with its token, only its operations, within bounds", async () => {
    const url = `${relay.info.api}/api/v1/ops/relay-status`;
    const post = (headers: Record<string, string>, body = '{}', to = url) =>
      fetch(to, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    expect((await post({})).status).toBe(401);
    expect((await post({ [API_TOKEN_HEADER]: relay.info.token.slice(0, -1) + (relay.info.token.endsWith('a') ? 'b' : 'a') })).status).toBe(401);
    const ok = await post({ [API_TOKEN_HEADER]: relay.info.token });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { peerId: string }).peerId).toBe(relay.info.peerId);
    const auth = { [API_TOKEN_HEADER]: relay.info.token };
    expect((await post(auth, '{}', `${relay.info.api}/api/v1/ops/invite`)).status).toBe(404);
    const big = await post(auth, JSON.stringify({ pad: 'x'.repeat(70 * 1024) }));
    expect(big.status).toBe(400);
    expect(((await big.json()) as { code: string }).code).toBe('E_BAD_REQUEST');
    const forever = await post(auth, JSON.stringify({ expiresInMs: 365 * 86_400_000 }), `${relay.info.api}/api/v1/ops/relay-invite`);
    expect(forever.status).toBe(400);
    const r = await cairn(['relay', '--api', '0.0.0.0:0', '--listen', '/ip4/127.0.0.1/tcp/0'], {
      home: join(await tempDir('cairn-relay-remote-'), 'home'),
      passphrase: null,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("the relay's API serves loopback only");
  });

  test('relay commands say what is wrong: a home with a repository, no relay running', async () => {
    const home = await initHome();
    dirs.push(join(home, '..'));
    const r = await cairn(['relay', '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0'], { home, passphrase: null });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('holds a repository: a relay needs a home of its own');
    const none = await cairn(['relay', 'status'], { home: join(home, 'nothing'), passphrase: null });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no relay is running for');
  });
});
