// The README's NAS quick start, run with Debian's docker-compose against the test engine: a copy of
// docker-compose.yml in a fresh directory with .env made from .env.example (passphrase, and the CI
// engine's socket and volumes directory, which are not the defaults here), `up -d`, the console's
// admin password from `logs` (which must not hold the recovery phrase: `exec ... cairn key show-phrase` shows it), the HEALTHCHECK turning healthy, the console
// answering on the host's loopback with that password, and a first volume backup through
// `exec cairn cairn ...`. Two things differ from a NAS, through a second compose file: the image is
// the registry-free test image (helpers/agent-image.ts) instead of a build of deploy/Dockerfile, and
// the agent's ports are free ones instead of 4001/8080 (this machine is shared by other tests).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { stringify } from 'yaml';
import { ensureAgentImage } from '../helpers/agent-image.js';
import { ROOT, tempDir } from '../helpers/cli.js';
import { describeDocker, docker, TEST_IMAGE } from '../helpers/docker-env.js';
import { freePort } from '../helpers/mesh-hosted.js';
import { describeRequiring } from '../helpers/requires.js';

const run = promisify(execFile);
const COMPOSE = '/usr/bin/docker-compose';
const PROJECT = `cairnt${process.pid}`;

// without docker-compose: a failure under CI, skipped elsewhere (helpers/requires.ts)
const describeCompose = existsSync(COMPOSE)
  ? describeDocker
  : (name: string, fn: () => void) => describeRequiring('docker-compose is available', `no ${COMPOSE} (apt-get install docker-compose)`, name, fn);

describeCompose('the NAS quick start with docker-compose', () => {
  let dir = '';
  let api = 0;
  const data = `cairn-t-compose-${process.pid}-appdata`;
  const compose = async (args: string[], timeoutMs = 120_000) => {
    try {
      return await run(COMPOSE, ['-p', PROJECT, '-f', 'docker-compose.yml', '-f', 'test-override.yml', ...args], {
        cwd: dir,
        env: process.env,
        timeout: timeoutMs,
        maxBuffer: 16 * 1024 * 1024,
      });
    } catch (err) {
      const e = err as Error & { stderr?: string };
      throw new Error(`docker-compose ${args.join(' ')} failed: ${(e.stderr ?? '').trim() || e.message}`);
    }
  };

  beforeAll(async () => {
    if (!existsSync(COMPOSE)) throw new Error(`${COMPOSE} is missing: apt-get install docker-compose`);
    const image = await ensureAgentImage();
    dir = await tempDir('cairn-compose-');
    // the user's steps: the compose file, and .env from .env.example with the passphrase set
    await copyFile(join(ROOT, 'docker-compose.yml'), join(dir, 'docker-compose.yml'));
    const socket = (process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock').replace(/^unix:\/\//, '');
    const volumes = `${(await docker(['info', '--format', '{{.DockerRootDir}}'])).trim()}/volumes`;
    const example = await readFile(join(ROOT, '.env.example'), 'utf8');
    await writeFile(
      join(dir, '.env'),
      example
        .replace(/^CAIRN_PASSPHRASE=.*$/m, 'CAIRN_PASSPHRASE=compose test passphrase')
        .replace(/^#DOCKER_VOLUMES=.*$/m, `DOCKER_VOLUMES=${volumes}`)
        .replace(/^#DOCKER_SOCKET=.*$/m, `DOCKER_SOCKET=${socket}`),
    );
    api = await freePort();
    const p2p = await freePort();
    await writeFile(
      join(dir, 'test-override.yml'),
      stringify({
        services: {
          cairn: {
            image,
            command: ['agent', '--init', '--listen', `/ip4/127.0.0.1/tcp/${p2p}`, '--api', `127.0.0.1:${api}`],
            // the image's health command, checked every second instead of every 30 s
            healthcheck: { interval: '1s', start_period: '0s', retries: 1 },
          },
        },
      }),
    );
    await docker(['volume', 'create', data]);
    await docker([
      'run',
      '--rm',
      '--network',
      'none',
      '-v',
      `${data}:/data`,
      TEST_IMAGE,
      'sh',
      '-c',
      'mkdir -p /data/photos && echo "holiday" > /data/photos/a.jpg && echo "notes" > /data/todo.txt',
    ]);
  }, 900_000);

  afterAll(async () => {
    if (dir) await compose(['down', '-v', '--timeout', '20']).catch(() => undefined);
    await docker(['volume', 'rm', '-f', data]).catch(() => undefined);
  });

  test('up -d, no recovery phrase but the console password in the logs, the phrase through exec, healthy, console login, first volume backup', async () => {
    await compose(['up', '-d', '--no-build'], 300_000);
    const id = (await compose(['ps', '-q', 'cairn'])).stdout.trim();
    expect(id).not.toBe('');
    for (let i = 0; ; i++) {
      const state = JSON.parse(await docker(['inspect', '--format', '{{json .State}}', id])) as { Running: boolean; Health?: { Status: string } };
      if (state.Health?.Status === 'healthy') break;
      if (!state.Running || i > 240) throw new Error(`the agent did not turn healthy: ${(await compose(['logs', '--no-color'])).stdout}`);
      await new Promise((r) => setTimeout(r, 500));
    }

    const log = (await compose(['logs', '--no-color', 'cairn'])).stdout.replace(/^[^|\n]*\| ?/gm, '');
    // the recovery phrase is not in the log (it says where to see it): `exec cairn cairn key show-phrase` has a terminal
    expect(log).toMatch(/recovery phrase is not printed here[^\n]*cairn key show-phrase/);
    expect(log).not.toMatch(/\b[a-z]+(?: [a-z]+){23}\b/);
    const shown = (await docker(['exec', '-t', id, 'cairn', 'key', 'show-phrase'])).replace(/\r\n/g, '\n');
    expect(shown).toMatch(/Recovery phrase[^\n]*\n\s*\n\s*[a-z]+(?: [a-z]+){23}\s*\n/);
    const password = /the admin password is (\S+)/.exec(log)?.[1];
    expect(password, log).toBeDefined();

    const base = `http://127.0.0.1:${api}`;
    const login = await fetch(`${base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ password }),
    });
    expect(login.status).toBe(200);
    expect((await fetch(`${base}/`)).status).toBe(200);

    // the first backup, as the README says: list the volumes, back one up, list the snapshots
    const vols = JSON.parse((await compose(['exec', '-T', 'cairn', 'cairn', 'volumes', '--json'])).stdout) as Array<{ name: string }>;
    expect(vols.map((v) => v.name)).toContain(data);
    const snap = JSON.parse((await compose(['exec', '-T', 'cairn', 'cairn', 'backup', `volume:${data}`, '--json'], 300_000)).stdout) as { id: string };
    const snaps = JSON.parse((await compose(['exec', '-T', 'cairn', 'cairn', 'snapshots', '--json'])).stdout) as Array<{ id: string; tags: string[] }>;
    expect(snaps.find((s) => s.id === snap.id)?.tags).toContain(`volume:${data}`);
    const files = (await compose(['exec', '-T', 'cairn', 'cairn', 'ls', snap.id])).stdout;
    expect(files).toMatch(/photos\/a\.jpg/);
    expect(files).toMatch(/todo\.txt/);

    // the cairn.yaml the first start wrote, fetched and put back as the README shows
    const yaml = (await compose(['exec', '-T', 'cairn', 'cat', '/var/lib/cairn/cairn.yaml'])).stdout;
    expect(yaml).toMatch(/^# sources:/m);
  }, 900_000);
});
