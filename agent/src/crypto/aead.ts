// Authenticated encryption: XChaCha20-Poly1305 (sodium-native) with a random 192-bit nonce per
// message, so one key can seal any number of messages. Sealed layout: nonce(24) || ciphertext || tag(16).
import sodium from 'sodium-native';

export const NONCE_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
export const TAG_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES;
export const SEAL_OVERHEAD_BYTES = NONCE_BYTES + TAG_BYTES;

export function seal(key: Buffer, plaintext: Buffer, ad: Buffer): Buffer {
  const out = Buffer.allocUnsafe(NONCE_BYTES + plaintext.length + TAG_BYTES);
  const nonce = out.subarray(0, NONCE_BYTES);
  sodium.randombytes_buf(nonce);
  sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(out.subarray(NONCE_BYTES), plaintext, ad, null, nonce, key);
  return out;
}

/** Returns the plaintext, or undefined when the message was not sealed with this key and `ad`. */
export function open(key: Buffer, sealed: Buffer, ad: Buffer): Buffer | undefined {
  if (sealed.length < SEAL_OVERHEAD_BYTES) return undefined;
  const nonce = sealed.subarray(0, NONCE_BYTES);
  const out = Buffer.allocUnsafe(sealed.length - SEAL_OVERHEAD_BYTES);
  try {
    sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(out, null, sealed.subarray(NONCE_BYTES), ad, nonce, key);
  } catch {
    return undefined;
  }
  return out;
}
