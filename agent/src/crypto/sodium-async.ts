// sodium-native's promise forms of Argon2id (called without a callback, they run on one of libuv's
// threads and return a promise); its published types only know the callback forms. One typed view
// for the key file (crypto_pwhash) and the console password (crypto_pwhash_str*).
import sodium from 'sodium-native';

export const sodiumAsync = sodium as unknown as {
  crypto_pwhash_async(out: Buffer, passwd: Buffer, salt: Buffer, opslimit: number, memlimit: number, alg: number): Promise<void>;
  crypto_pwhash_str_async(out: Buffer, passwd: Buffer, opslimit: number, memlimit: number): Promise<void>;
  crypto_pwhash_str_verify_async(str: Buffer, passwd: Buffer): Promise<boolean>;
};
