// Authenticated encryption: XChaCha20-Poly1305 (sodium-native) with a random 192-bit nonce per
// message, so one key can seal any number of messages. Sealed layout: nonce(24) || ciphertext || tag(16).
import sodium from 'sodium-native';

export const NONCE_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
export const TAG_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES;
export const SEAL_OVERHEAD_BYTES = NONCE_BYTES + TAG_BYTES;

/**
 * Random bytes for nonces, taken from the OS a pool at a time: libsodium asks the kernel once per
 * call (getrandom), about 10 us here, which was 5% of a first backup's main thread when every small
 * blob took one. Each pool byte is handed out once; nonces are public, only their uniqueness matters.
 * One pool per thread (module state), so a seal worker has its own.
 */
const NONCE_POOL_BYTES = NONCE_BYTES * 2048;
let noncePool = Buffer.alloc(0);
let noncePoolAt = 0;

/** Writes a fresh random nonce into `out` (NONCE_BYTES long). */
export function randomNonce(out: Buffer): void {
  if (noncePoolAt + NONCE_BYTES > noncePool.length) {
    noncePool = Buffer.allocUnsafeSlow(NONCE_POOL_BYTES);
    sodium.randombytes_buf(noncePool);
    noncePoolAt = 0;
  }
  noncePool.copy(out, 0, noncePoolAt, noncePoolAt + NONCE_BYTES);
  noncePoolAt += NONCE_BYTES;
}

export function seal(key: Buffer, plaintext: Buffer, ad: Buffer): Buffer {
  const out = Buffer.allocUnsafe(NONCE_BYTES + plaintext.length + TAG_BYTES);
  const nonce = out.subarray(0, NONCE_BYTES);
  randomNonce(nonce);
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
