// The local API of a `cairn relay`: loopback only, each request carrying the token from relay.json
// (x-cairn-token, compared in constant time). Three operations, POST with a JSON body of at most
// RELAY_API_MAX_BODY_BYTES: relay-status, relay-invite {expiresInMs}, relay-unpair {friend}.
// Replies are JSON; errors `{code, message, exitCode}` as the agent's API gives them.
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { API_PREFIX, API_TOKEN_HEADER } from '../../../protocol/api.js';
import { ERRORS, errorSpec, type ErrorCode } from '../../../protocol/errors.js';
import type { RelayAgent } from '../mesh/relay-agent.js';
import { CairnError, errorMessage, UsageError } from '../util/errors.js';

export const RELAY_API_MAX_BODY_BYTES = 64 * 1024;
/** Longest an invite of the relay may stay open. */
export const RELAY_INVITE_MAX_MS = 30 * 86_400_000;
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > RELAY_API_MAX_BODY_BYTES) throw new UsageError(`request body over ${RELAY_API_MAX_BODY_BYTES} bytes`, 'E_BAD_REQUEST');
    parts.push(chunk);
  }
  const text = Buffer.concat(parts).toString('utf8');
  try {
    return text === '' ? {} : (JSON.parse(text) as unknown);
  } catch {
    throw new UsageError('request body is not JSON', 'E_BAD_REQUEST');
  }
}

export interface RelayApi {
  url: string;
  close(): Promise<void>;
}

/** Serves the relay's operations on `host:port` (loopback only). */
export async function startRelayApi(relay: RelayAgent, host: string, port: number, token: string): Promise<RelayApi> {
  if (!LOOPBACK.has(host)) throw new UsageError(`the relay's API serves loopback only (127.0.0.1, ::1, localhost), not ${host}`);
  const expected = Buffer.from(token);
  const ops: Record<string, (body: Record<string, unknown>) => Promise<unknown>> = {
    'relay-status': () => relay.status(),
    'relay-invite': (b) => {
      const ms = b.expiresInMs;
      if (typeof ms !== 'number' || !Number.isSafeInteger(ms) || ms < 60_000 || ms > RELAY_INVITE_MAX_MS)
        throw new UsageError(`expiresInMs: from 1 minute to ${RELAY_INVITE_MAX_MS / 86_400_000} days`, 'E_BAD_REQUEST');
      return relay.invite(ms);
    },
    'relay-unpair': (b) => {
      if (typeof b.friend !== 'string' || b.friend.length === 0 || b.friend.length > 128) throw new UsageError('friend: a name or PeerId', 'E_BAD_REQUEST');
      return relay.unpair(b.friend);
    },
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const given = Buffer.from(String(req.headers[API_TOKEN_HEADER] ?? ''));
      if (given.length !== expected.length || !timingSafeEqual(given, expected))
        return reply(res, 401, { code: 'E_AUTH', message: 'missing or wrong token', exitCode: 1 });
      const name = req.method === 'POST' && req.url?.startsWith(`${API_PREFIX}/ops/`) ? req.url.slice(`${API_PREFIX}/ops/`.length) : '';
      const op = Object.hasOwn(ops, name) ? ops[name] : undefined;
      if (!op) return reply(res, 404, { code: 'E_NOT_FOUND', message: `no relay operation ${req.method} ${req.url}`, exitCode: 2 });
      try {
        const body = await readBody(req);
        return reply(res, 200, await op(typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {}));
      } catch (err) {
        const code = (err instanceof CairnError && errorSpec(err.code) ? err.code : 'E_INTERNAL') as ErrorCode;
        return reply(res, ERRORS[code].http, { code, message: errorMessage(err), exitCode: ERRORS[code].exit });
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
