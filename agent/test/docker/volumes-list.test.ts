// `cairn volumes --json` against the real engine: names, drivers, mountpoints and the containers
// mounting each volume must match what the docker CLI says (`docker volume ls`, `docker ps -a`).
// Also: an unreachable engine is one clear error line, and directory backups do not need Docker.
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { VolumesResult } from '../../../protocol/api.js';
import { cairn, cairnJson, initHome, tempDir } from '../helpers/cli.js';
import { DockerScratch, describeDocker, docker, WRITER_SCRIPT } from '../helpers/docker-env.js';

const homes: string[] = [];
afterAll(async () => {
  for (const h of homes) await rm(dirname(h), { recursive: true, force: true });
});

describe('without a reachable engine', () => {
  test('cairn volumes fails with one line naming what was tried; a directory backup still works', async () => {
    const home = await initHome();
    homes.push(home);
    const env = { DOCKER_HOST: 'unix:///nonexistent/cairn-test/docker.sock' };
    const r = await cairn(['volumes'], { home, env });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('the Docker engine is not reachable at unix:///nonexistent/cairn-test/docker.sock (from DOCKER_HOST): no such socket');

    const v = await cairn(['backup', 'volume:anything'], { home, env });
    expect(v.code).toBe(1);
    expect(v.stderr).toContain('not reachable at unix:///nonexistent/cairn-test/docker.sock');

    const dir = await tempDir('cairn-nodocker-');
    try {
      const b = await cairn(['backup', dir, '--json'], { home, env });
      expect(b.code, b.stderr).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describeDocker('cairn volumes --json against the engine', () => {
  const scratch = new DockerScratch('list');
  let home: string;

  beforeAll(async () => {
    home = await initHome();
    homes.push(home);
  });
  afterAll(async () => {
    await scratch.cleanup();
  });

  test('names, drivers, mountpoints and mounting containers match docker volume ls / inspect / ps -a', async () => {
    const shared = await scratch.volume('shared', { 'com.example.purpose': 'test' });
    const lonely = await scratch.volume('lonely');
    const second = await scratch.volume('second');
    const running = await scratch.container('running', {
      volumes: [shared],
      script: WRITER_SCRIPT,
      mode: 'detach',
      labels: { 'cairn.stop': 'true', 'cairn.exec.before': 'echo dump', 'unrelated.label': 'x' },
    });
    const exited = await scratch.container('exited', {
      volumes: [`${shared}:/a`, `${second}:/b`],
      script: 'echo hi > /a/hi',
      mode: 'run',
      labels: { 'cairn.pause': 'true' },
    });
    const created = await scratch.container('created', { volumes: [second], script: 'true', mode: 'create' });

    const listed = (await cairnJson<VolumesResult>(['volumes'], { home })).filter((v) => v.name.startsWith(scratch.prefix));
    const ours = (n: string) => n.startsWith(scratch.prefix);

    // Names: exactly docker volume ls.
    const dockerNames = (await docker(['volume', 'ls', '--format', '{{.Name}}'])).split('\n').filter(ours).sort();
    expect(listed.map((v) => v.name)).toEqual(dockerNames);
    expect(dockerNames).toEqual([shared, lonely, second].sort());

    // Driver, mountpoint, labels: docker volume inspect.
    const inspected = JSON.parse(await docker(['volume', 'inspect', ...dockerNames])) as Array<{
      Name: string;
      Driver: string;
      Mountpoint: string;
      Labels: Record<string, string> | null;
    }>;
    for (const i of inspected) {
      const v = listed.find((x) => x.name === i.Name)!;
      expect({ driver: v.driver, mountpoint: v.mountpoint, labels: v.labels }).toEqual({ driver: i.Driver, mountpoint: i.Mountpoint, labels: i.Labels ?? {} });
    }

    // Mounts: docker ps -a (name, state, image per container; which volumes each mounts).
    const ps = (await docker(['ps', '-a', '--no-trunc', '--format', '{{json .}}']))
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as { Names: string; State: string; Image: string; Mounts: string })
      .filter((c) => ours(c.Names));
    const expected = new Map<string, Array<{ name: string; state: string; image: string }>>(dockerNames.map((n) => [n, []]));
    for (const c of ps) {
      for (const m of c.Mounts.split(',').filter((x) => x)) expected.get(m)?.push({ name: c.Names, state: c.State, image: c.Image });
    }
    for (const v of listed) {
      const got = v.containers.map((c) => ({ name: c.name, state: c.state, image: c.image })).sort((a, b) => a.name.localeCompare(b.name));
      expect(got, v.name).toEqual((expected.get(v.name) ?? []).sort((a, b) => a.name.localeCompare(b.name)));
    }

    // And what this test set up, spelled out.
    const byName = new Map(listed.map((v) => [v.name, v]));
    expect(byName.get(lonely)!.containers).toEqual([]);
    expect(byName.get(shared)!.containers.map((c) => [c.name, c.state])).toEqual(
      [
        [exited, 'exited'],
        [running, 'running'],
      ].sort((a, b) => a[0]!.localeCompare(b[0]!)),
    );
    expect(
      byName
        .get(second)!
        .containers.map((c) => [c.name, c.state, c.destination])
        .sort(),
    ).toEqual(
      [
        [created, 'created', '/data'],
        [exited, 'exited', '/b'],
      ].sort(),
    );
    const runningEntry = byName.get(shared)!.containers.find((c) => c.name === running)!;
    expect(runningEntry.labels).toEqual({ 'cairn.exec.before': 'echo dump', 'cairn.stop': 'true' });
    expect(runningEntry.image).toBe('cairn-test-busybox:latest');
    // Sizes come from the engine's disk-usage report (a number once the engine has measured the volume).
    for (const v of listed) expect(v.sizeBytes === null || v.sizeBytes >= 0).toBe(true);
    expect(byName.get(shared)!.lastSnapshot).toBeNull();
  });

  test('lastSnapshot is the latest snapshot tagged volume:NAME', async () => {
    const vol = await scratch.volume('snap');
    await scratch.container('fill', { volumes: [vol], script: 'echo content > /data/f', mode: 'run' });
    const first = await cairnJson<{ id: string; time: string; tags: string[] }>(['backup', `volume:${vol}`], { home });
    expect(first.tags).toContain(`volume:${vol}`);
    const second = await cairnJson<{ id: string; time: string }>(['backup', `volume:${vol}`, '--tag', 'extra'], { home });
    const listed = await cairnJson<VolumesResult>(['volumes'], { home });
    const v = listed.find((x) => x.name === vol)!;
    expect(v.lastSnapshot).toEqual({ id: second.id, shortId: second.id.slice(0, 8), time: second.time });
    // The human listing names it too.
    const human = await cairn(['volumes'], { home });
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(vol);
    expect(human.stdout).toContain(second.id.slice(0, 8));
  });
});
