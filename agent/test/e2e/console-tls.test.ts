// A real agent whose console has TLS files in cairn.yaml (on loopback: tests stay on 127.0.0.0/8;
// a wildcard bind with the self-signed certificate is in test/api/console-tls.test.ts): it logs the
// certificate's fingerprint, answers https with a Secure session cookie, the CLI talks to it by the
// certificate pinned in agent.json (and refuses another), and the image's healthcheck passes. A
// console beyond loopback whose TLS cannot be set up refuses to start, in one line, before listening.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { ROUTES, SESSION_COOKIE } from '../../../protocol/console-api.js';
import { pinnedFetch } from '../../src/cli/pinned-https.js';
import { makeSelfSigned } from '../../src/crypto/self-signed.js';
import { startAgent, type TestAgent } from '../helpers/agents.js';
import { cairn, initHome, ROOT } from '../helpers/cli.js';
import { freePort } from '../helpers/mesh-hosted.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('the agent with console TLS', () => {
  let agent: TestAgent | undefined;
  afterAll(async () => agent?.stop());

  test('fingerprint logged, https with a Secure cookie, the CLI pins the certificate, the healthcheck passes', async () => {
    const home = await initHome();
    dirs.push(dirname(home));
    const cert = makeSelfSigned('cairn e2e', ['localhost', '127.0.0.1'], new Date(), 30);
    await writeFile(join(home, 'console.crt'), cert.certPem);
    await writeFile(join(home, 'console.key'), cert.keyPem, { mode: 0o600 });
    await writeFile(
      join(home, 'cairn.yaml'),
      `console:\n  address: 127.0.0.1:8080\n  tls-cert: ${join(home, 'console.crt')}\n  tls-key: ${join(home, 'console.key')}\n`,
    );
    agent = await startAgent('tls', { home, existing: { recoveryPhrase: '' } });
    for (let i = 0; !agent.log().includes('SHA-256 fingerprint') && i < 100; i++) await new Promise((r) => setTimeout(r, 100));
    expect(agent.log()).toContain(`its SHA-256 fingerprint (compare it with the browser's) is ${cert.fingerprint256}`);
    const info = JSON.parse(await readFile(join(home, 'agent.json'), 'utf8')) as { api: string; tls?: { fingerprint256: string; certPem: string } };
    expect(info.api).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(info.tls?.fingerprint256).toBe(cert.fingerprint256);

    // the console: login over https, the session cookie is Secure
    const password = /admin password is (\S+)/.exec(agent.log())?.[1] as string;
    const login = await pinnedFetch(
      `${info.api}${ROUTES.login.path}`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password }) },
      info.tls as { fingerprint256: string; certPem: string },
    );
    expect(login.status).toBe(200);
    expect(login.headers.get('set-cookie')).toMatch(new RegExp(`^${SESSION_COOKIE}=[^;]+;.*Secure`, 'i'));

    // the CLI through the agent's API (pinned), and the image's healthcheck
    const status = await cairn(['snapshots', '--json'], { home });
    expect(status.code, status.stderr).toBe(0);
    const health = await new Promise<number | null>((resolve) =>
      spawn(process.execPath, [join(ROOT, 'bin', 'healthcheck.js')], { env: { ...process.env, CAIRN_HOME: home }, stdio: 'ignore' }).on('close', resolve),
    );
    expect(health).toBe(0);

    // a certificate other than the pinned one: the CLI refuses to send its token
    const other = makeSelfSigned('other', ['localhost'], new Date(), 30);
    await writeFile(join(home, 'agent.json'), JSON.stringify({ ...info, tls: { certPem: other.certPem, fingerprint256: other.fingerprint256 } }));
    const refused = await cairn(['snapshots', '--json'], { home });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/does not answer/);
    await writeFile(join(home, 'agent.json'), JSON.stringify(info));
  }, 120_000);
});

describe('a console beyond loopback without usable TLS', () => {
  test('refuses to start, in one line, and never listens', async () => {
    const home = await initHome();
    dirs.push(dirname(home));
    const port = await freePort();
    await writeFile(
      join(home, 'cairn.yaml'),
      `console:\n  address: 0.0.0.0:${port}\n  allow-remote: true\n  tls-cert: ${join(home, 'missing.crt')}\n  tls-key: ${join(home, 'missing.key')}\n`,
    );
    const r = await cairn(['agent', '--listen', '/ip4/127.0.0.1/tcp/0'], { home });
    expect(r.code).toBe(2);
    expect(
      r.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('cairn: ')),
    ).toEqual([`cairn: console tls-cert ${join(home, 'missing.crt')} cannot be read: ENOENT`]);
    expect(existsSync(join(home, 'agent.json'))).toBe(false);
    // and only one of the two files: refused by the config check
    await writeFile(join(home, 'cairn.yaml'), `console:\n  address: 0.0.0.0:${port}\n  allow-remote: true\n  tls-cert: ${join(home, 'missing.crt')}\n`);
    const half = await cairn(['agent', '--listen', '/ip4/127.0.0.1/tcp/0'], { home });
    expect(half.code).toBe(2);
    expect(half.stderr).toMatch(/tls-cert and tls-key go together/);
  }, 60_000);
});
