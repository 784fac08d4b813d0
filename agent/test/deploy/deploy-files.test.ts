// The deploy files: the Dockerfile's structure (a registry is needed to build it, so its shape is
// checked here), and every compose file in the repository accepted by Debian's docker-compose.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';
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

  test('the final stage: production dependencies only, state volume, healthcheck, stated user', async () => {
    const { stages: s } = await stages();
    const final = s.at(-1) as Stage;
    const text = final.lines.join('\n');
    // node_modules come from the stage that ran npm ci --omit=dev
    const modules = /COPY --from=(\S+) \S*node_modules/.exec(text);
    expect(modules).not.toBeNull();
    const depStage = s.find((x) => x.name === modules?.[1]) as Stage;
    expect(depStage.lines.join('\n')).toMatch(/npm (ci|prune)[^\n]*--omit=dev/);
    expect(text).not.toMatch(/npm (ci|install)(?![^\n]*--omit=dev)/);
    expect(text).toMatch(/^VOLUME \["\/var\/lib\/cairn"\]/m);
    expect(text).toMatch(/ENV CAIRN_HOME=\/var\/lib\/cairn/);
    expect(text).toMatch(/^HEALTHCHECK .*\/health/m);
    // root only with the reason (the Docker socket) written next to it
    const user = /^USER (\S+)/m.exec(text)?.[1];
    expect(user).toBeDefined();
    if (user === 'root' || user === '0') {
      const raw = await readFile(join(ROOT, 'deploy', 'Dockerfile'), 'utf8');
      expect(raw).toMatch(/runs as root[^]*Docker socket/);
    }
  });
});

describe('compose files', () => {
  const present = existsSync(COMPOSE);
  const ok = present || !process.env.CI;
  test.skipIf(!present && !process.env.CI)(`docker-compose config accepts every compose file${present ? '' : ` (skipped: no ${COMPOSE}; apt-get install docker-compose)`}`, async () => {
    expect(ok && present, `${COMPOSE} is required under CI`).toBe(true);
    const files = ['docker-compose.yml', ...(await readdir(join(ROOT, 'deploy', 'compose'))).filter((f) => f.endsWith('.yml')).map((f) => join('deploy', 'compose', f))];
    expect(files.length).toBeGreaterThanOrEqual(3);
    const env = join(ROOT, '.env');
    const made = !existsSync(env);
    if (made) await copyFile(join(ROOT, '.env.example'), env);
    try {
      for (const f of files) {
        const { stdout } = await run(COMPOSE, ['-f', join(ROOT, f), 'config'], { cwd: ROOT });
        expect(stdout, f).toMatch(/services:/);
      }
      // the NAS file keeps the console on the host's loopback and mounts the socket and volumes
      const { stdout } = await run(COMPOSE, ['-f', join(ROOT, 'docker-compose.yml'), 'config'], { cwd: ROOT });
      expect(stdout).toMatch(/127\.0\.0\.1:8080:8080|host_ip: 127\.0\.0\.1/);
      expect(stdout).toMatch(/docker\.sock/);
      expect(stdout).toMatch(/\/var\/lib\/docker\/volumes/);
    } finally {
      if (made) await rm(env, { force: true });
    }
  });
});
