#!/usr/bin/env node
// The container's HEALTHCHECK (deploy/Dockerfile): exit 0 when the running agent's API answers
// GET /health with {ok: true}, else 1 with one line saying why. The address comes from
// $CAIRN_HOME/agent.json, which the agent writes once its API listens (and removes when it stops),
// so the check follows --api and console.address instead of assuming port 8080. An agent serving
// TLS (a console beyond loopback) is checked against the certificate agent.json names (pinned by
// its SHA-256 fingerprint).
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';

const home = process.env.CAIRN_HOME || '/var/lib/cairn';

/** GET url over TLS, trusting only `tls.certPem` and checking its fingerprint. */
function getPinned(url, tls) {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'GET',
        ca: tls.certPem,
        allowPartialTrustChain: true,
        timeout: 4000,
        checkServerIdentity: (_host, cert) =>
          cert.fingerprint256 === tls.fingerprint256 ? undefined : new Error(`certificate ${cert.fingerprint256} is not the agent's`),
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 4 s')));
    req.on('error', reject);
    req.end();
  });
}

try {
  const { api, tls } = JSON.parse(readFileSync(join(home, 'agent.json'), 'utf8'));
  const url = new URL('/health', api);
  // a wildcard bind is reached on loopback (the Host header must name this agent)
  if (url.hostname === '0.0.0.0') url.hostname = '127.0.0.1';
  if (url.hostname === '[::]') url.hostname = '[::1]';
  let status;
  let body;
  if (url.protocol === 'https:') {
    if (!tls) throw new Error(`${url} serves TLS but agent.json has no certificate`);
    const r = await getPinned(url, tls);
    status = r.status;
    try {
      body = JSON.parse(r.text);
    } catch {
      body = {};
    }
  } else {
    const res = await fetch(url, { signal: AbortSignal.timeout(4000) });
    status = res.status;
    body = await res.json().catch(() => ({}));
  }
  if (status !== 200 || body.ok !== true) throw new Error(`${url} answered ${status}`);
  process.exit(0);
} catch (err) {
  process.stderr.write(`unhealthy: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
