// TLS for the console: the self-signed certificate (DER written by hand) is a valid X.509 v3
// server certificate; a listener beyond loopback always gets TLS (configured files, else a
// self-signed pair made once in the home) and buildApi refuses to build one without it; over TLS
// the console answers https only, its login cookie is Secure, and the CLI's pinned client accepts
// exactly the pinned certificate.
import { X509Certificate } from 'node:crypto';
import { mkdtemp, stat, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, describe, expect, test } from 'vitest';
import { ROUTES, SESSION_COOKIE } from '../../../protocol/console-api.js';
import { ConsoleAuth } from '../../src/api/auth.js';
import { buildApi } from '../../src/api/server.js';
import { consoleTls, ConsoleTlsError, consoleTlsDir } from '../../src/api/tls.js';
import { pinnedFetch } from '../../src/cli/pinned-https.js';
import { makeSelfSigned } from '../../src/crypto/self-signed.js';
import { Activity } from '../../src/ops/activity.js';
import type { Services } from '../../src/ops/services.js';
import type { Stores } from '../../src/compose-root.js';
import { initStores } from '../helpers/stores.js';
import { systemClock } from '../../src/util/clock.js';

const tmp = () => mkdtemp(join(tmpdir(), 'cairn-tls-'));

describe('makeSelfSigned', () => {
  test('an X.509 v3 certificate signed by its own key, for the given names, with the stated validity', () => {
    const now = new Date('2030-01-02T03:04:05Z');
    const c = makeSelfSigned('Cairn agent nas', ['localhost', '127.0.0.1', '::1', 'nas.local', '192.168.1.20', 'fe80::1'], now, 3650);
    const x = new X509Certificate(c.certPem);
    expect(x.verify(x.publicKey)).toBe(true);
    expect(x.subject).toBe('CN=Cairn agent nas');
    expect(x.issuer).toBe('CN=Cairn agent nas');
    expect(x.subjectAltName).toBe(
      'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:nas.local, IP Address:192.168.1.20, IP Address:FE80:0:0:0:0:0:0:1',
    );
    expect(x.ca).toBe(false);
    expect(x.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(new Date(x.validFrom).toISOString()).toBe('2030-01-01T03:04:05.000Z');
    expect(new Date(x.validTo).toISOString()).toBe('2039-12-31T03:04:05.000Z');
    expect(x.fingerprint256).toBe(c.fingerprint256);
    expect(x.checkHost('nas.local')).toBe('nas.local');
    expect(x.checkIP('192.168.1.20')).toBe('192.168.1.20');
    // after 2049 the times are GeneralizedTime
    const late = new X509Certificate(makeSelfSigned('x', ['localhost'], new Date('2049-06-01T00:00:00Z'), 3650).certPem);
    expect(new Date(late.validTo).getUTCFullYear()).toBe(2059);
  });
});

describe('consoleTls', () => {
  test('loopback without files: none; beyond loopback: a self-signed pair made once in the home (key mode 600)', async () => {
    const home = await tmp();
    expect(await consoleTls(home, '127.0.0.1', {}, new Date())).toBeUndefined();
    expect(await consoleTls(home, '[::1]', {}, new Date())).toBeUndefined();
    const first = await consoleTls(home, '0.0.0.0', {}, new Date());
    expect(first?.selfSigned).toBe(true);
    expect(((await stat(join(consoleTlsDir(home), 'key.pem'))).mode & 0o777).toString(8)).toBe('600');
    const again = await consoleTls(home, '192.168.1.20', {}, new Date());
    expect(again?.fingerprint256).toBe(first?.fingerprint256);
  });

  test('configured files: used (on loopback too); one without the other, unreadable, not PEM or not a pair: a one-line ConsoleTlsError', async () => {
    const dir = await tmp();
    const a = makeSelfSigned('a', ['localhost'], new Date(), 30);
    const b = makeSelfSigned('b', ['localhost'], new Date(), 30);
    await writeFile(join(dir, 'a.crt'), a.certPem);
    await writeFile(join(dir, 'a.key'), a.keyPem);
    await writeFile(join(dir, 'b.key'), b.keyPem);
    const got = await consoleTls(dir, '127.0.0.1', { certFile: join(dir, 'a.crt'), keyFile: join(dir, 'a.key') }, new Date());
    expect(got).toMatchObject({ selfSigned: false, fingerprint256: a.fingerprint256, certFile: join(dir, 'a.crt') });
    const bad: Array<[{ certFile?: string; keyFile?: string }, RegExp]> = [
      [{ certFile: join(dir, 'a.crt') }, /tls-cert and tls-key go together/],
      [{ certFile: join(dir, 'missing.crt'), keyFile: join(dir, 'a.key') }, /tls-cert .*missing\.crt cannot be read: ENOENT/],
      [{ certFile: join(dir, 'a.key'), keyFile: join(dir, 'a.key') }, /is not a PEM certificate/],
      [{ certFile: join(dir, 'a.crt'), keyFile: join(dir, 'b.key') }, /b\.key is not the key of tls-cert/],
    ];
    for (const [files, why] of bad) {
      const err = await consoleTls(dir, '0.0.0.0', files, new Date()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConsoleTlsError);
      expect((err as Error).message).toMatch(why);
      expect((err as Error).message).not.toContain('\n');
    }
  });
});

describe('the console over TLS', () => {
  const apps: FastifyInstance[] = [];
  const repos: Stores[] = [];
  afterAll(async () => {
    for (const a of apps) await a.close();
    for (const r of repos) await r.close();
  });

  async function services(): Promise<{ svc: Services; auth: ConsoleAuth; password: () => string }> {
    const home = join(await tmp(), 'home');
    const stores = await initStores(home, 'tls test passphrase', new Date());
    repos.push(stores);
    const { repo, ledgers } = stores;
    let password = '';
    const auth = await ConsoleAuth.open(home, systemClock, 'agent-token-0123456789abcdef', (line) => {
      password = /admin password is (\S+)/.exec(line)?.[1] ?? password;
    });
    return { svc: { home, repo, ledgers, clock: systemClock, activity: new Activity(systemClock), agentName: 't' }, auth, password: () => password };
  }

  test('buildApi refuses a listener beyond loopback without TLS', async () => {
    const { svc, auth } = await services();
    for (const host of ['0.0.0.0', '::', '192.168.1.20', 'nas.local']) {
      expect(() => buildApi(svc, { host, port: 0, auth }, () => 'peer'), host).toThrow(ConsoleTlsError);
    }
    // loopback stays plain
    apps.push(buildApi(svc, { host: '127.0.0.1', port: 0, auth }, () => 'peer'));
  });

  test('a wildcard listener with the self-signed certificate: https only, Secure session cookie, the pinned client accepts only that certificate', async () => {
    const { svc, auth, password } = await services();
    const tls = (await consoleTls(svc.home, '0.0.0.0', {}, new Date())) as NonNullable<Awaited<ReturnType<typeof consoleTls>>>;
    const app = buildApi(svc, { host: '0.0.0.0', port: 0, auth, tls }, () => 'peer');
    apps.push(app);
    // bound on loopback here (tests stay on 127.0.0.0/8); the options are those of a wildcard bind
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as { port: number }).port;
    const base = `https://127.0.0.1:${port}`;
    const pin = { certPem: tls.cert, fingerprint256: tls.fingerprint256 };
    const health = await pinnedFetch(`${base}/health`, { method: 'GET', headers: {} }, pin);
    expect(health.status).toBe(200);
    const login = await pinnedFetch(
      `${base}${ROUTES.login.path}`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: password() }) },
      pin,
    );
    expect(login.status).toBe(200);
    const cookie = login.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(new RegExp(`^${SESSION_COOKIE}=`));
    expect(cookie).toMatch(/;\s*Secure/i);
    expect(cookie).toMatch(/;\s*HttpOnly/i);
    // plain HTTP on the same port gets no answer from the console
    const plain = await new Promise<string>((resolve) => {
      const req = httpRequest(`http://127.0.0.1:${port}/health`, (res) => resolve(`HTTP ${res.statusCode}`));
      req.on('error', (e) => resolve(`error ${(e as NodeJS.ErrnoException).code ?? e.message}`));
      req.setTimeout(5000, () => req.destroy(new Error('timeout')));
      req.end();
    });
    expect(plain).not.toMatch(/^HTTP 200/);
    // another certificate, or the right one with another fingerprint: refused before the request
    const other = makeSelfSigned('other', ['localhost'], new Date(), 30);
    await expect(
      pinnedFetch(`${base}/health`, { method: 'GET', headers: {} }, { certPem: other.certPem, fingerprint256: other.fingerprint256 }),
    ).rejects.toThrow();
    await expect(pinnedFetch(`${base}/health`, { method: 'GET', headers: {} }, { certPem: tls.cert, fingerprint256: other.fingerprint256 })).rejects.toThrow(
      /not the one in agent\.json/,
    );
  });
});
