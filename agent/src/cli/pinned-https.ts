// fetch() for an agent that serves TLS: node:https with the certificate from agent.json as the
// only trust anchor (a self-signed one, or the configured one: a partial chain is accepted) and
// its SHA-256 fingerprint compared before any byte of the request is sent. The host name is not
// checked (the CLI connects to the listener's address); the pinned certificate is the identity.
import { request } from 'node:https';
import type { PeerCertificate } from 'node:tls';
import { Readable } from 'node:stream';

export interface PinnedCert {
  certPem: string;
  fingerprint256: string;
}

export function pinnedFetch(
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string | ReadableStream<Uint8Array> },
  pin: PinnedCert,
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: init.method,
        headers: init.headers,
        ca: pin.certPem,
        allowPartialTrustChain: true,
        checkServerIdentity: (_host: string, cert: PeerCertificate) =>
          cert.fingerprint256 === pin.fingerprint256
            ? undefined
            : new Error(`the agent's TLS certificate ${cert.fingerprint256} is not the one in agent.json (${pin.fingerprint256})`),
      },
      (res) => {
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) for (const one of Array.isArray(v) ? v : v === undefined ? [] : [v]) headers.append(k, one);
        const status = res.statusCode ?? 502;
        const body = status === 204 || status === 304 ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
        resolve(new Response(body, { status, headers }));
      },
    );
    req.on('error', reject);
    // a streamed body (backup --stdin) goes out as it is read, once TLS (and the pin) let it
    if (typeof init.body === 'object')
      Readable.fromWeb(init.body as import('node:stream/web').ReadableStream<Uint8Array>)
        .on('error', (err) => req.destroy(err))
        .pipe(req);
    else req.end(init.body);
  });
}
