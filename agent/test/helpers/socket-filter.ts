// A stand-in for wollomatic/socket-proxy in tests (its image cannot be pulled here): a Unix socket
// that passes a request to the engine's socket only when an allow rule of its method matches its
// path, with the proxy's semantics: one list of Go-syntax regular expressions per method (the
// subset used is the same in JavaScript), each anchored (^...$), matched against the decoded path
// without the query (Go's r.URL.Path); a method without rules answers 405, a path no rule matches
// 403. Upgraded requests (exec start with hijack) are passed through as raw streams. Every request
// is recorded with the decision.
import { once } from 'node:events';
import { createServer, request, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';

export interface AllowRule {
  method: string;
  pattern: string;
  re: RegExp;
}

/** The -allowMETHOD=REGEX arguments of the proxy's command line. */
export function allowRules(args: string[]): AllowRule[] {
  const out: AllowRule[] = [];
  for (const a of args) {
    const m = /^-allow(GET|HEAD|POST|PUT|PATCH|DELETE|CONNECT|TRACE|OPTIONS)=(.+)$/.exec(a);
    if (m) out.push({ method: m[1] as string, pattern: m[2] as string, re: new RegExp(`^(?:${m[2] as string})$`) });
  }
  return out;
}

export interface FilteredRequest {
  method: string;
  path: string;
  status: 'allowed' | 403 | 405;
}

/** The proxy's decision for one request. */
export function decide(rules: AllowRule[], method: string, url: string): FilteredRequest {
  const raw = url.split('?')[0] as string;
  let path: string;
  try {
    path = decodeURIComponent(raw);
  } catch {
    return { method, path: raw, status: 403 };
  }
  const mine = rules.filter((r) => r.method === method);
  if (mine.length === 0) return { method, path, status: 405 };
  return { method, path, status: mine.some((r) => r.re.test(path)) ? 'allowed' : 403 };
}

export interface SocketFilter {
  seen: FilteredRequest[];
  close(): Promise<void>;
}

function head(req: IncomingMessage): string {
  const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
  for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

export async function startSocketFilter(listenPath: string, enginePath: string, rules: AllowRule[]): Promise<SocketFilter> {
  const seen: FilteredRequest[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const d = decide(rules, req.method ?? '', req.url ?? '/');
    seen.push(d);
    if (d.status !== 'allowed') {
      res.writeHead(d.status, { 'content-type': 'text/plain' }).end(d.status === 405 ? 'Method Not Allowed\n' : 'Forbidden\n');
      return;
    }
    const up = request({ socketPath: enginePath, method: req.method, path: req.url, headers: req.headers }, (ures) => {
      res.writeHead(ures.statusCode ?? 502, ures.headers);
      ures.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('upgrade', (req: IncomingMessage, client: Socket, rest: Buffer) => {
    const d = decide(rules, req.method ?? '', req.url ?? '/');
    seen.push(d);
    if (d.status !== 'allowed') {
      client.end(`HTTP/1.1 ${d.status} ${d.status === 405 ? 'Method Not Allowed' : 'Forbidden'}\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    const up = connect(enginePath);
    sockets.add(up);
    up.on('close', () => sockets.delete(up));
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
    up.write(head(req));
    if (rest.length > 0) up.write(rest);
    up.pipe(client);
    client.pipe(up);
  });
  server.listen(listenPath);
  await once(server, 'listening');
  return {
    seen,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
