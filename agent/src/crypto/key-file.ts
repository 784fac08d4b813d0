// The local key file: the root secret sealed under a key stretched from the passphrase with
// Argon2id (libsodium crypto_pwhash). Parameters travel in the file so they can be raised later.
import sodium from 'sodium-native';
import { CairnError, WrongPassphraseError } from '../util/errors.js';
import { open, seal } from './aead.js';
import { sodiumAsync } from './sodium-async.js';

export const KEY_FILE_VERSION = 1;
export const ARGON2_OPSLIMIT = sodium.crypto_pwhash_OPSLIMIT_INTERACTIVE;
export const ARGON2_MEMLIMIT_BYTES = sodium.crypto_pwhash_MEMLIMIT_INTERACTIVE;

export interface KeyFile {
  version: number;
  repoId: string;
  kdf: 'argon2id13';
  opslimit: number;
  memlimitBytes: number;
  salt: string;
  sealedRoot: string;
}

/**
 * Argon2id on one of libuv's threads: the event loop goes on meanwhile (a command loads the index,
 * the agent serves friends and its console while a passphrase is changed).
 */
async function stretch(passphrase: string, salt: Buffer, opslimit: number, memlimit: number): Promise<Buffer> {
  const key = Buffer.alloc(32);
  await sodiumAsync.crypto_pwhash_async(key, Buffer.from(passphrase, 'utf8'), salt, opslimit, memlimit, sodium.crypto_pwhash_ALG_ARGON2ID13);
  return key;
}

function keyFileAd(repoId: string): Buffer {
  return Buffer.from(`cairn/v1/key-file/${repoId}`);
}

export async function makeKeyFile(root: Buffer, repoId: string, passphrase: string): Promise<KeyFile> {
  const salt = Buffer.alloc(sodium.crypto_pwhash_SALTBYTES);
  sodium.randombytes_buf(salt);
  const key = await stretch(passphrase, salt, ARGON2_OPSLIMIT, ARGON2_MEMLIMIT_BYTES);
  return {
    version: KEY_FILE_VERSION,
    repoId,
    kdf: 'argon2id13',
    opslimit: ARGON2_OPSLIMIT,
    memlimitBytes: ARGON2_MEMLIMIT_BYTES,
    salt: salt.toString('base64'),
    sealedRoot: seal(key, root, keyFileAd(repoId)).toString('base64'),
  };
}

export function parseKeyFile(text: string, path: string): KeyFile {
  let kf: KeyFile;
  try {
    kf = JSON.parse(text) as KeyFile;
  } catch {
    throw new CairnError('E_KEYFILE', `key file ${path} is not valid JSON`);
  }
  if (kf.version !== KEY_FILE_VERSION || kf.kdf !== 'argon2id13' || typeof kf.salt !== 'string' || typeof kf.sealedRoot !== 'string') {
    throw new CairnError('E_KEYFILE', `key file ${path} has an unknown version or missing fields`);
  }
  return kf;
}

/** Returns the root secret; throws WrongPassphraseError when the passphrase does not unlock it. */
export async function unlockKeyFile(kf: KeyFile, passphrase: string, path: string): Promise<Buffer> {
  const key = await stretch(passphrase, Buffer.from(kf.salt, 'base64'), kf.opslimit, kf.memlimitBytes);
  const root = open(key, Buffer.from(kf.sealedRoot, 'base64'), keyFileAd(kf.repoId));
  if (!root) throw new WrongPassphraseError(path);
  return root;
}
