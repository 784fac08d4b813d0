// deploy/compose/socket-proxy.yml: the proxy gives the agent a Unix socket in a shared volume and
// publishes nothing (no TCP port at all, so no local user can reach the engine through it); its
// allow list is exactly the calls Cairn documents; and, against the real engine through a stand-in
// that applies that list with the proxy's rules (helpers/socket-filter.ts), every Cairn volume
// operation works: a backup through the helper container (it needs the helper image: the old
// variant's IMAGES: 0 refused it), with stop, pause and exec hooks, a restore into a new volume and
// one into a volume in use, the volume list; not one request was refused. Calls outside the list
// are refused, however the path is spelled. (The engine is shared with other tests, which may have
// made the helper image already: the image import is also run directly through the stand-in.)
import { readdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Readable } from 'node:stream';
import Docker from 'dockerode';
import { parse } from 'yaml';
import type { VolumeBackupResult, VolumeRestoreResult, VolumesResult } from '../../../protocol/api.js';
import { cairnJson, initHome, ROOT, tempDir } from '../helpers/cli.js';
import { DockerScratch, describeDocker, docker } from '../helpers/docker-env.js';
import { allowRules, decide, startSocketFilter, type SocketFilter } from '../helpers/socket-filter.js';

interface Service {
  image?: string;
  command?: string[];
  ports?: unknown;
  network_mode?: string;
  environment?: Record<string, string>;
  volumes?: string[];
}

async function composeFile(name: string): Promise<{ text: string; services: Record<string, Service>; volumes: Record<string, unknown> }> {
  const text = await readFile(join(ROOT, name), 'utf8');
  const doc = parse(text) as { services: Record<string, Service>; volumes?: Record<string, unknown> };
  return { text, services: doc.services, volumes: doc.volumes ?? {} };
}

const PROXY_FILE = 'deploy/compose/socket-proxy.yml';
const V = '(/v1\\.[0-9]+)?';
const ID = '[0-9a-f]{64}';
const VOLUME = '[a-zA-Z0-9][a-zA-Z0-9_.-]+';
/** The documented list (the file's header comment and README say the same, in words). */
const DOCUMENTED = [
  ['HEAD', `${V}/_ping`],
  ['GET', `${V}/_ping`],
  ['GET', `${V}/containers/json`],
  ['GET', `${V}/containers/${ID}/(json|archive)`],
  ['GET', `${V}/exec/${ID}/json`],
  ['GET', `${V}/volumes(/${VOLUME})?`],
  ['GET', `${V}/system/df`],
  ['GET', `${V}/images/cairn-volume-helper:empty/json`],
  ['POST', `${V}/containers/${ID}/(stop|start|pause|unpause|exec)`],
  ['POST', `${V}/exec/${ID}/start`],
  ['POST', `${V}/containers/create`],
  ['POST', `${V}/images/create`],
  ['POST', `${V}/volumes/create`],
  ['DELETE', `${V}/containers/${ID}`],
  ['DELETE', `${V}/volumes/${VOLUME}`],
];

describe('the socket-proxy compose variant', () => {
  test('no compose file publishes a port of the Docker API; the proxy listens only on a Unix socket in a volume shared with the agent', async () => {
    const files = [
      'docker-compose.yml',
      ...(await readdir(join(ROOT, 'deploy', 'compose'))).filter((f) => f.endsWith('.yml')).map((f) => `deploy/compose/${f}`),
    ];
    for (const f of files) {
      const { services } = await composeFile(f);
      for (const [name, s] of Object.entries(services)) {
        expect(s.ports, `${f}: ${name} publishes ports`).toBeUndefined();
        expect(JSON.stringify(s), `${f}: ${name}`).not.toMatch(/2375|tcp:\/\//);
      }
    }
    const { services, volumes, text } = await composeFile(PROXY_FILE);
    const proxy = services['docker-proxy'] as Service;
    const cairn = services.cairn as Service;
    expect(proxy.image).toMatch(/^wollomatic\/socket-proxy:\d+\.\d+\.\d+$/);
    expect(proxy.network_mode).toBe('none');
    const endpoint = proxy.command?.find((a) => a.startsWith('-proxysocketendpoint='))?.split('=')[1];
    expect(endpoint).toMatch(/^\/run\/[\w-]+\/docker\.sock$/);
    expect(proxy.command).toContain('-proxysocketendpointfilemode=0600');
    expect(proxy.command).toContain('-allowbindmountfrom=/cairn-makes-no-bind-mounts');
    expect(cairn.environment?.DOCKER_HOST).toBe(`unix://${endpoint}`);
    // the same named volume holds the socket on both sides; only the proxy sees the engine's socket
    const shared = `docker-proxy-socket:${dirname(endpoint as string)}`;
    expect(proxy.volumes).toContain(shared);
    expect(cairn.volumes).toContain(shared);
    expect(volumes).toHaveProperty('docker-proxy-socket');
    expect(cairn.volumes?.some((v) => v.includes('docker.sock'))).toBe(false);
    expect(proxy.volumes?.find((v) => v.includes('docker.sock'))).toMatch(/:\/var\/run\/docker\.sock:ro$/);
    // the allow list is exactly the documented one, and the header comment names every path
    expect(allowRules(proxy.command ?? []).map((r) => [r.method, r.pattern])).toEqual(DOCUMENTED);
    for (const p of [
      '/_ping',
      '/containers/json',
      '/containers/ID/json',
      '/containers/ID/archive',
      '/exec/ID/json',
      '/system/df',
      '/images/cairn-volume-helper:empty/json',
      '/exec/ID/start',
      '/containers/create',
      '/images/create',
      '/volumes/create',
      'DELETE /containers/ID',
      'DELETE /volumes/VOLUME',
    ])
      expect(text).toContain(p);
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toMatch(/socket-proxy\.yml/);
    expect(readme).not.toMatch(/127\.0\.0\.1:2375/);
  });

  test('the allow list refuses what Cairn does not call, however the path is spelled', async () => {
    const rules = allowRules((await composeFile(PROXY_FILE)).services['docker-proxy']?.command ?? []);
    const id = 'a'.repeat(64);
    for (const [method, url] of [
      ['GET', '/images/json'],
      ['POST', '/build'],
      ['POST', `/containers/${id}/attach`],
      ['GET', `/containers/${id}/logs`],
      ['POST', `/containers/${id}/kill`],
      ['PUT', `/containers/${id}/archive`],
      ['POST', '/networks/create'],
      ['GET', '/secrets'],
      ['DELETE', '/images/alpine'],
      ['GET', '/volumes/../images/json'],
      ['GET', '/volumes/x%2F..%2F..%2Fimages%2Fjson'],
      ['GET', '/images/cairn-volume-helper:empty/json/../../alpine/json'],
      ['POST', '/containers/create/../../build'],
      ['DELETE', '/volumes/..'],
      ['GET', `/containers/${id}/json/x`],
      ['GET', '/v1.41/images/json'],
      ['POST', `/v2/containers/${id}/start`],
    ] as const) {
      expect(decide(rules, method, url).status, `${method} ${url}`).not.toBe('allowed');
    }
    expect(decide(rules, 'GET', `/v1.41/containers/${id}/archive?path=/v`).status).toBe('allowed');
  });
});

describeDocker("Cairn through the socket proxy's allow list (real engine)", () => {
  const scratch = new DockerScratch('sockproxy');
  let home = '';
  let dir = '';
  let filter: SocketFilter | undefined;
  let env: Record<string, string> = {};
  const made: string[] = [];

  beforeAll(async () => {
    home = await initHome();
    dir = await tempDir('cairn-sockproxy-');
    const rules = allowRules((await composeFile(PROXY_FILE)).services['docker-proxy']?.command ?? []);
    const engine = (process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock').replace(/^unix:\/\//, '');
    filter = await startSocketFilter(join(dir, 'docker.sock'), engine, rules);
    env = { DOCKER_HOST: `unix://${join(dir, 'docker.sock')}` };
  });
  afterAll(async () => {
    await filter?.close();
    for (const v of made) await docker(['volume', 'rm', '-f', v]).catch(() => undefined);
    await scratch.cleanup();
    if (home) await rm(dirname(home), { recursive: true, force: true });
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('helper-path backup with stop, pause and exec hooks, restores into a new and a used volume, volume list: nothing refused', async () => {
    const stopped = await scratch.volume('stop');
    const paused = await scratch.volume('pause');
    const a = await scratch.container('a', {
      volumes: [stopped],
      mode: 'detach',
      script: 'echo one > /data/f; trap "exit 0" TERM; while true; do sleep 1; done',
      labels: { 'cairn.stop': 'true', 'cairn.exec.before': 'echo before > /data/hook', 'cairn.exec.after': 'echo after >> /data/hook' },
    });
    const b = await scratch.container('b', {
      volumes: [paused],
      mode: 'detach',
      script: 'echo two > /data/g; trap "exit 0" TERM; while true; do sleep 1; done',
      labels: { 'cairn.pause': 'true' },
    });
    // wait until both wrote their file (the containers run in the background)
    for (
      let i = 0;
      (await docker(['exec', a, 'cat', '/data/f']).catch(() => '')) === '' || (await docker(['exec', b, 'cat', '/data/g']).catch(() => '')) === '';
      i++
    ) {
      if (i > 200) throw new Error('the test containers did not start');
      await new Promise((r) => setTimeout(r, 100));
    }

    const listed = await cairnJson<VolumesResult>(['volumes'], { home, env });
    expect(listed.map((v) => v.name)).toEqual(expect.arrayContaining([stopped, paused]));
    const backup = await cairnJson<VolumeBackupResult>(['backup', `volume:${stopped}`, `volume:${paused}`, '--volume-read', 'helper'], { home, env });
    expect(backup.volumes.map((v) => v.via)).toEqual(['helper', 'helper']);
    expect(backup.warnings).toEqual([]);
    expect(backup.files).toBe(3);
    expect((await scratch.inspect(a)).State).toMatchObject({ Running: true, Paused: false });
    expect((await scratch.inspect(b)).State).toMatchObject({ Running: true, Paused: false });
    expect(await docker(['exec', a, 'cat', '/data/hook'])).toBe('before\nafter\n');

    const fresh = scratch.name('restored');
    made.push(fresh);
    const r1 = await cairnJson<VolumeRestoreResult>(['restore', backup.id, '--to-volume', fresh, '--from-volume', stopped], { home, env });
    expect(r1.errors).toEqual([]);
    expect(r1.createdVolume).toBe(true);
    const r2 = await cairnJson<VolumeRestoreResult>(['restore', backup.id, '--to-volume', paused, '--from-volume', paused, '--force'], { home, env });
    expect(r2.errors).toEqual([]);
    expect((await scratch.inspect(b)).State).toMatchObject({ Running: true, Paused: false });
    // This home's helpers only: other test files may be reading volumes through helpers right now.
    expect((await docker(['ps', '-a', '-q', '--filter', `label=cairn.helper.home=${home}`])).trim()).toBe('');

    const refused = filter?.seen.filter((s) => s.status !== 'allowed') ?? [];
    expect(refused, JSON.stringify(refused)).toEqual([]);
    // the helper path and the hooks really went through the proxy
    const used = new Set(filter?.seen.map((s) => `${s.method} ${s.path.replace(/[0-9a-f]{64}/g, 'ID')}`));
    for (const call of [
      'POST /containers/create',
      'GET /containers/ID/archive',
      'DELETE /containers/ID',
      'POST /containers/ID/exec',
      'POST /exec/ID/start',
      'POST /containers/ID/stop',
      'POST /containers/ID/start',
      'POST /containers/ID/pause',
      'POST /containers/ID/unpause',
      'POST /volumes/create',
    ]) {
      expect(used.has(call), `${call} in ${[...used].join(', ')}`).toBe(true);
    }

    // the helper image is made once per engine (other tests share this engine and may have made it
    // already): the same import the agent does (volume-helper.ts ensureHelperImage), under a name of
    // this test, passes the proxy
    const through = new Docker({ socketPath: join(dir, 'docker.sock') });
    const repo = `cairn-t-sockproxy-${process.pid}`;
    const stream = (await through.importImage(
      Readable.from([Buffer.alloc(1024)]) as unknown as string,
      { repo, tag: 'empty' } as object,
    )) as NodeJS.ReadableStream;
    await new Promise<void>((resolve, reject) => through.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())));
    try {
      expect((await docker(['image', 'inspect', '--format', '{{.Id}}', `${repo}:empty`])).trim()).toMatch(/^sha256:/);
    } finally {
      await docker(['image', 'rm', `${repo}:empty`]).catch(() => undefined);
    }
    expect(filter?.seen.filter((s) => s.method === 'POST' && s.path === '/images/create').length).toBeGreaterThan(0);
    expect(filter?.seen.filter((s) => s.status !== 'allowed')).toEqual([]);
  }, 300_000);
});
