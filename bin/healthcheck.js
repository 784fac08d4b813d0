#!/usr/bin/env node
// The container's HEALTHCHECK (deploy/Dockerfile): exit 0 when the running agent's API answers
// GET /health with {ok: true}, else 1 with one line saying why. The address comes from
// $CAIRN_HOME/agent.json, which the agent writes once its API listens (and removes when it stops),
// so the check follows --api and console.address instead of assuming port 8080.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const home = process.env.CAIRN_HOME || '/var/lib/cairn';
try {
  const { api } = JSON.parse(readFileSync(join(home, 'agent.json'), 'utf8'));
  const url = new URL('/health', api);
  // a wildcard bind is reached on loopback (the Host header must name this agent)
  if (url.hostname === '0.0.0.0') url.hostname = '127.0.0.1';
  if (url.hostname === '[::]') url.hostname = '[::1]';
  const res = await fetch(url, { signal: AbortSignal.timeout(4000) });
  const body = await res.json().catch(() => ({}));
  if (!res.ok || body.ok !== true) throw new Error(`${url} answered ${res.status}`);
  process.exit(0);
} catch (err) {
  process.stderr.write(`unhealthy: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
