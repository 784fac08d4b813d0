// The console's authentication file, CAIRN_HOME/console-auth.json (mode 0600, SPEC 8): the admin
// password's Argon2id hash, the API tokens (as SHA-256), and the generated first password until its
// first use. The agent's console (api/auth.ts) keeps it; `cairn console reset-password` replaces
// the password while the agent is stopped.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TokenScope } from '../../../protocol/console-api.js';
import { hashPassword } from '../crypto/password.js';
import { writeFileAtomic } from '../util/fsx.js';

export const AUTH_FILE = 'console-auth.json';
export const AUTH_VERSION = 1;

export interface AuthFile {
  version: number;
  /** crypto_pwhash_str output ($argon2id$...). */
  passwordHash: string;
  /** A token without `scope` was made before scopes existed, when every token could do everything. */
  tokens: Array<{ id: string; name: string; sha256: string; createdAt: string; scope?: TokenScope }>;
  /**
   * The generated admin password, kept (in this mode-0600 file) only until the first login or
   * password change, so that every start until then prints it again: a start that fails right
   * after making it does not lose it.
   */
  firstPassword?: string;
}

/** Readable, unambiguous password: 4 groups of 5 from 31 letters and digits (about 99 bits). */
function generatePassword(): string {
  const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789'; // no i, l, o, 0, 1
  const bytes = randomBytes(20);
  let out = '';
  for (let i = 0; i < 20; i++) {
    if (i > 0 && i % 5 === 0) out += '-';
    out += alphabet[(bytes[i] as number) % alphabet.length];
  }
  return out;
}

/** A new console-auth.json whose admin password is a fresh generated one. */
export async function freshAuthFile(tokens: AuthFile['tokens'] = []): Promise<AuthFile> {
  const password = generatePassword();
  return { version: AUTH_VERSION, passwordHash: await hashPassword(password), tokens, firstPassword: password };
}

/**
 * Replaces the admin password of `home` with a new generated one (kept API tokens), printed by
 * the agent's next start; the agent must not be running (it keeps the file in memory). Returns it.
 */
export async function resetConsolePasswordOp(home: string): Promise<string> {
  const path = join(home, AUTH_FILE);
  let tokens: AuthFile['tokens'] = [];
  try {
    tokens = (JSON.parse(await readFile(path, 'utf8')) as Partial<AuthFile>).tokens ?? [];
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && !(err instanceof SyntaxError)) throw err;
  }
  const file = await freshAuthFile(Array.isArray(tokens) ? tokens : []);
  await writeFileAtomic(path, Buffer.from(JSON.stringify(file, null, 2) + '\n'), 0o600);
  return file.firstPassword as string;
}
