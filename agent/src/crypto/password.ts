// The console password: stored as an Argon2id hash string, checked without blocking the event loop.
import sodium from 'sodium-native';
import { ARGON2_MEMLIMIT_BYTES, ARGON2_OPSLIMIT } from './key-file.js';
import { sodiumAsync as pwhash } from './sodium-async.js';

/** An Argon2id hash string of `password` (libsodium's crypto_pwhash_str, the key file's cost). */
export async function hashPassword(password: string): Promise<string> {
  const out = Buffer.alloc(sodium.crypto_pwhash_STRBYTES);
  await pwhash.crypto_pwhash_str_async(out, Buffer.from(password, 'utf8'), ARGON2_OPSLIMIT, ARGON2_MEMLIMIT_BYTES);
  return out.toString('utf8').replace(/\0+$/, '');
}

/** Whether `password` matches the hash string; an empty password or a malformed hash never does. */
export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  if (password.length === 0) return false;
  const str = Buffer.alloc(sodium.crypto_pwhash_STRBYTES);
  str.write(hash, 'utf8');
  try {
    return await pwhash.crypto_pwhash_str_verify_async(str, Buffer.from(password, 'utf8'));
  } catch {
    return false;
  }
}
