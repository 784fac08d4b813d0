// A self-signed X.509 v3 certificate for the console's TLS, made with node:crypto alone (it signs
// but cannot build certificates): ECDSA P-256 with SHA-256, the DER written here by hand. Only
// what a TLS server certificate needs: subject = issuer = CN, a random positive serial, validity,
// subjectAltName (DNS names and IP addresses) and extKeyUsage serverAuth. No basicConstraints: an
// end-entity certificate (browsers refuse a CA certificate used as a server's).
// Why not a library: @peculiar/x509 (and selfsigned, built on it) throws at import unless a global
// reflect-metadata polyfill is loaded first (tsyringe), which would patch Reflect for the whole
// agent; node-forge signs only with RSA keys it generates in JS. The DER here is checked by parsing
// it back with node:crypto's X509Certificate and by a real TLS handshake (console-tls tests).
import { generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
}

const seq = (...c: Buffer[]) => tlv(0x30, ...c);

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out = [40 * (parts[0] as number) + (parts[1] as number)];
  for (const p of parts.slice(2)) {
    const stack = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) stack.unshift(0x80 | (v & 0x7f));
    out.push(...stack);
  }
  return tlv(0x06, Buffer.from(out));
}

/** X.690 time: UTCTime before 2050, GeneralizedTime from then on. */
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2))) : tlv(0x18, Buffer.from(iso));
}

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  // IPv6: expand "::" and write 8 groups of 16 bits
  const [head, tail] = ip.includes('::') ? (ip.split('::') as [string, string]) : [ip, ''];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return Buffer.concat(groups.map((g) => Buffer.from([parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff])));
}

export interface SelfSignedCert {
  certPem: string;
  keyPem: string;
  /** SHA-256 of the certificate's DER, colon-separated upper-case hex (as browsers show it). */
  fingerprint256: string;
}

const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

/** A new key pair and a certificate for `names` (host names and IP addresses), valid from a day ago for `days`. */
export function makeSelfSigned(commonName: string, names: string[], now: Date, days: number): SelfSignedCert {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cn = seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(commonName, 'utf8')))));
  const serial = randomBytes(16);
  serial[0] = ((serial[0] as number) & 0x7f) | 0x01; // positive, no leading zero byte needed
  const alt = [...new Set(names)].map((n) => (isIP(n) ? tlv(0x87, ipBytes(n)) : tlv(0x82, Buffer.from(n, 'ascii'))));
  const extensions = tlv(0xa3, seq(seq(oid('2.5.29.17'), tlv(0x04, seq(...alt))), seq(oid('2.5.29.37'), tlv(0x04, seq(oid('1.3.6.1.5.5.7.3.1'))))));
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))),
    tlv(0x02, serial),
    ECDSA_SHA256,
    cn,
    seq(time(new Date(now.getTime() - 86_400_000)), time(new Date(now.getTime() + days * 86_400_000))),
    cn,
    publicKey.export({ type: 'spki', format: 'der' }),
    extensions,
  );
  const signature = sign('sha256', tbs, { key: privateKey, dsaEncoding: 'der' });
  const der = seq(tbs, ECDSA_SHA256, tlv(0x03, Buffer.from([0]), signature));
  const cert = new X509Certificate(der);
  if (!cert.verify(publicKey)) throw new Error('the self-signed certificate does not verify with its own key');
  return { certPem: cert.toString(), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), fingerprint256: cert.fingerprint256 };
}
