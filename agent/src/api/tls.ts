// TLS for the console and API. Beyond loopback the admin password, the session cookie and API
// tokens must not cross the network in clear, so a non-loopback listener always serves HTTPS:
// with the certificate and key named in cairn.yaml (console.tls-cert / tls-key), else with a
// self-signed certificate made at the first start that needs one and kept in HOME/console-tls/
// (its SHA-256 fingerprint is logged, for the browser's warning page, and written to agent.json,
// where the CLI pins it). On loopback the console stays plain HTTP unless a certificate is given.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { hostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { makeSelfSigned } from '../crypto/self-signed.js';
import { CairnError, EXIT_USAGE } from '../util/errors.js';
import { writeFileAtomic } from '../util/fsx.js';

/** How long a self-signed console certificate is valid. */
export const SELF_SIGNED_VALIDITY_DAYS = 3650;

export class ConsoleTlsError extends CairnError {
  constructor(message: string) {
    super('E_CONSOLE_TLS', message, EXIT_USAGE);
    this.name = 'ConsoleTlsError';
  }
}

export interface ConsoleTls {
  key: string;
  cert: string;
  /** SHA-256 of the certificate (colon-separated hex), as a browser shows it. */
  fingerprint256: string;
  /** Where the certificate is: the configured file, or the self-signed one in the home. */
  certFile: string;
  selfSigned: boolean;
}

export function consoleTlsDir(home: string): string {
  return join(home, 'console-tls');
}

/** Loopback names and addresses (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\./.test(h);
}

/** Names a self-signed certificate covers: loopback, this machine's names, the bound address, its interfaces' addresses. */
function certNames(bind: string): string[] {
  const names = ['localhost', '127.0.0.1', '::1', hostname(), `${hostname()}.local`];
  const h = bind.replace(/^\[|\]$/g, '');
  if (h !== '0.0.0.0' && h !== '::') names.push(h);
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) names.push(a.address);
  return names.filter((n) => isIP(n) === 4 || (isIP(n) === 6 && !n.includes('.')) || /^[A-Za-z0-9.-]+$/.test(n));
}

async function readPem(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new ConsoleTlsError(`console ${what} ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Parses and pairs a certificate and key; one-line errors name the files. */
function checkPair(cert: string, key: string, certFile: string, keyFile: string): X509Certificate {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new ConsoleTlsError(`console tls-cert ${certFile} is not a PEM certificate`);
  }
  let keyObject;
  try {
    keyObject = createPrivateKey(key);
  } catch {
    throw new ConsoleTlsError(`console tls-key ${keyFile} is not a PEM private key`);
  }
  if (!x509.checkPrivateKey(keyObject)) throw new ConsoleTlsError(`console tls-key ${keyFile} is not the key of tls-cert ${certFile}`);
  return x509;
}

/**
 * TLS for a listener on `host`: the configured files, else (beyond loopback) the home's
 * self-signed certificate, made now when absent; undefined for loopback without files.
 */
export async function consoleTls(home: string, host: string, files: { certFile?: string; keyFile?: string }, now: Date): Promise<ConsoleTls | undefined> {
  const { certFile, keyFile } = files;
  if ((certFile === undefined) !== (keyFile === undefined)) throw new ConsoleTlsError('console tls-cert and tls-key go together: give both or neither');
  if (certFile !== undefined && keyFile !== undefined) {
    const cert = await readPem(certFile, 'tls-cert');
    const key = await readPem(keyFile, 'tls-key');
    const x509 = checkPair(cert, key, certFile, keyFile);
    return { cert, key, fingerprint256: x509.fingerprint256, certFile, selfSigned: false };
  }
  if (isLoopbackHost(host)) return undefined;
  const dir = consoleTlsDir(home);
  const cf = join(dir, 'cert.pem');
  const kf = join(dir, 'key.pem');
  if (!existsSync(cf) || !existsSync(kf)) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const made = makeSelfSigned(`Cairn agent ${hostname()}`, certNames(host), now, SELF_SIGNED_VALIDITY_DAYS);
    await writeFileAtomic(kf, Buffer.from(made.keyPem), 0o600);
    await writeFileAtomic(cf, Buffer.from(made.certPem), 0o644);
  }
  const cert = await readPem(cf, 'self-signed certificate');
  const key = await readPem(kf, 'self-signed key');
  const x509 = checkPair(cert, key, cf, kf);
  return { cert, key, fingerprint256: x509.fingerprint256, certFile: cf, selfSigned: true };
}
