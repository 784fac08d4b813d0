// Spellings of one URL path that a lenient router may still match: percent-encoding of any
// character (upper and lower hex, doubled), case, dot segments, doubled/trailing/encoded slashes,
// backslashes, ;params, queries, fragments, NUL and absolute-form targets. Used by the route-auth
// test (every spelling of every protected route, without credentials) and by the long fuzzing
// campaign (`npm run adversarial`), which stacks random mutations.
import { request, Agent } from 'node:http';
import { connect } from 'node:net';

const hex = (c: string, lower: boolean): string => {
  const h = Buffer.from(c, 'utf8').toString('hex').toUpperCase();
  const enc = h.replace(/(..)/g, '%$1');
  return lower ? enc.toLowerCase() : enc;
};

/** The path with parameters (`:id`) and wildcards (`*`) filled in with plain values. */
export function concretePath(pattern: string): string {
  return pattern.replace(/:[A-Za-z0-9_]+/g, 'x').replace(/\*/g, 'index.html');
}

/** Every systematic spelling of `path` (deduplicated, `path` itself first). */
export function spellings(path: string): string[] {
  const out = new Set<string>([path]);
  const chars = [...path];
  const slashes = chars.flatMap((c, i) => (c === '/' ? [i] : []));
  const at = (i: number, s: string) => chars.slice(0, i).join('') + s + chars.slice(i + 1).join('');
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    out.add(at(i, hex(c, false)));
    out.add(at(i, hex(c, true)));
    if (c !== '/') out.add(at(i, `%25${hex(c, false).slice(1)}`)); // double encoding
  }
  const encodeAll = (lower: boolean) => chars.map((c) => (c === '/' ? c : hex(c, lower))).join('');
  out.add(encodeAll(false));
  out.add(encodeAll(true));
  out.add(path.toUpperCase());
  const segments = path.split('/');
  for (let s = 1; s < segments.length; s++) {
    const up = [...segments];
    up[s] = (up[s] as string).toUpperCase();
    out.add(up.join('/'));
    const semi = [...segments];
    semi[s] = `${semi[s] as string};x=1`;
    out.add(semi.join('/'));
    const dotted = [...segments];
    dotted.splice(s, 0, '.');
    out.add(dotted.join('/'));
    const back = [...segments];
    back.splice(s, 0, 'zz', '..');
    out.add(back.join('/'));
    const backEnc = [...segments];
    backEnc.splice(s, 0, 'zz', '%2e%2e');
    out.add(backEnc.join('/'));
    const dotEnc = [...segments];
    dotEnc.splice(s, 0, '%2E');
    out.add(dotEnc.join('/'));
    const fullwidth = [...segments];
    fullwidth[s] = [...(fullwidth[s] as string)].map((c) => (/[a-z]/.test(c) ? hex(String.fromCodePoint(c.codePointAt(0)! + 0xfee0), false) : c)).join('');
    out.add(fullwidth.join('/'));
  }
  for (const i of slashes) {
    out.add(at(i, '//'));
    if (i > 0) {
      out.add(at(i, '%2f'));
      out.add(at(i, '%2F'));
      out.add(at(i, '\\'));
      out.add(at(i, '%5c'));
    }
  }
  for (const tail of ['/', '//', '/.', '/..', ';', ';x=1', '?', '?x=1', '#', '#x', '%00', '%20', '.', '%2f', '/%2e', '?snapshot=latest']) out.add(path + tail);
  out.add(`/.${path}`);
  out.add(`/..${path}`);
  out.add(`//${path}`);
  out.add(`/%2e%2e${path}`);
  return [...out];
}

/** Mutation kinds the campaign stacks at random. */
const MUTATIONS: Array<(p: string, r: () => number) => string> = [
  (p, r) => {
    const i = Math.floor(r() * p.length);
    return p.slice(0, i) + hex(p[i] as string, r() < 0.5) + p.slice(i + 1);
  },
  (p, r) => {
    const i = Math.floor(r() * p.length);
    return p.slice(0, i) + (p[i] as string).toUpperCase() + p.slice(i + 1);
  },
  (p, r) => {
    const i = p.indexOf('/', Math.floor(r() * p.length));
    return i < 0 ? p + '/' : p.slice(0, i) + ['//', '/./', '/zz/../', '/%2e/', '%2f', '\\', '/;x/'][Math.floor(r() * 7)] + p.slice(i + 1);
  },
  (p, r) => p + ['/', ';a', '?a=1', '#f', '%00', '%2f', '/.', '.', '%09', '?snapshot=latest&path=/etc'][Math.floor(r() * 10)],
  (p, r) => {
    const i = Math.floor(r() * p.length);
    return p.slice(0, i) + '%25' + p.slice(i + 1);
  },
  (p) => p.replace(/%([0-9A-Fa-f]{2})/, '%25$1'),
];

/** A random stack of 1-4 mutations of `path`. */
export function mutate(path: string, r: () => number): string {
  let p = path;
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) p = (MUTATIONS[Math.floor(r() * MUTATIONS.length)] as (p: string, r: () => number) => string)(p, r);
  return p;
}

export interface RawAnswer {
  status: number;
  body: string;
}

const keepAlive = new Agent({ keepAlive: true, maxSockets: 8 });

/**
 * Sends `method target` exactly as spelled (Node's client does not normalise the request target) to
 * 127.0.0.1:port, with a JSON body for methods that carry one; no credentials. A request the HTTP
 * layer refuses to send (invalid characters) answers status 0.
 */
export async function sendRaw(port: number, method: string, target: string, host: string, extra: Record<string, string> = {}): Promise<RawAnswer> {
  const first = await sendOnce(port, method, target, { host, ...extra }, keepAlive);
  // a kept-alive socket the server closed after its previous answer, or an answer Node's client
  // cannot parse (a body on a HEAD answer): once more on a raw socket, reading the status line
  return first.status === -1 ? sendOnSocket(port, method, target, { host, ...extra }) : first;
}

function sendOnSocket(port: number, method: string, target: string, headers: Record<string, string>): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const body = method === 'GET' || method === 'HEAD' ? '' : '{}';
    const socket = connect(port, '127.0.0.1');
    const parts: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on('data', (d: Buffer) => parts.push(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const text = Buffer.concat(parts).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      const at = text.indexOf('\r\n\r\n');
      resolve({ status: m ? Number(m[1]) : -1, body: at < 0 ? '' : text.slice(at + 4, at + 304) });
    });
    const head = [
      `${method} ${target} HTTP/1.1`,
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
      'connection: close',
      ...(body ? ['content-type: application/json', `content-length: ${body.length}`] : []),
    ];
    socket.write(`${head.join('\r\n')}\r\n\r\n${body}`);
  });
}

function sendOnce(port: number, method: string, target: string, headers: Record<string, string>, agent: Agent | false): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const body = method === 'GET' || method === 'HEAD' ? undefined : '{}';
    let req;
    try {
      req = request(
        {
          host: '127.0.0.1',
          port,
          method,
          path: target,
          agent,
          headers: { ...headers, ...(body ? { 'content-type': 'application/json', 'content-length': String(body.length) } : {}) },
        },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (d: Buffer) => parts.push(d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8').slice(0, 300) }));
          res.on('error', () => resolve({ status: -1, body: '' }));
        },
      );
    } catch {
      resolve({ status: 0, body: '' });
      return;
    }
    req.on('error', () => resolve({ status: -1, body: '' }));
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}
