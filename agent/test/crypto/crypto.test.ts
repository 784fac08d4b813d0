import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { NONCE_BYTES, open, seal } from '../../src/crypto/aead.js';
import { blobId } from '../../src/crypto/ids.js';
import { deriveKeys, repoIdFromRoot } from '../../src/crypto/kdf.js';
import { makeKeyFile, unlockKeyFile } from '../../src/crypto/key-file.js';
import { phraseToRoot, rootToPhrase } from '../../src/crypto/phrase.js';
import { WrongPassphraseError } from '../../src/util/errors.js';

describe('AEAD', () => {
  const key = randomBytes(32);
  const ad = Buffer.from('ad');
  it('round-trips and uses a fresh nonce each time', () => {
    const msg = Buffer.from('hello');
    const a = seal(key, msg, ad);
    expect(open(key, a, ad)).toEqual(msg);
    expect(seal(key, msg, ad).equals(a)).toBe(false);
  });
  it('never gives two messages the same nonce, across many refills of the nonce pool', () => {
    const key = randomBytes(32);
    const seen = new Set<string>();
    const n = 3 * 2048 + 17; // three pools of 2048 nonces and a part of a fourth
    for (let i = 0; i < n; i++)
      seen.add(
        seal(key, Buffer.from([i & 0xff]), Buffer.alloc(0))
          .subarray(0, NONCE_BYTES)
          .toString('hex'),
      );
    expect(seen.size).toBe(n);
  });

  it('refuses every single-bit flip, a wrong key, wrong AD and truncation', () => {
    const sealed = seal(key, Buffer.from('some plaintext'), ad);
    for (let i = 0; i < sealed.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const bad = Buffer.from(sealed);
        bad[i] = (bad[i] as number) ^ (1 << bit);
        expect(open(key, bad, ad)).toBeUndefined();
      }
    }
    expect(open(randomBytes(32), sealed, ad)).toBeUndefined();
    expect(open(key, sealed, Buffer.from('other'))).toBeUndefined();
    expect(open(key, sealed.subarray(0, sealed.length - 1), ad)).toBeUndefined();
    expect(open(key, Buffer.alloc(3), ad)).toBeUndefined();
  });
});

describe('keys', () => {
  it('derives distinct subkeys deterministically from the root', () => {
    const root = randomBytes(32);
    const k = deriveKeys(root);
    const all = [k.ids, k.chunker, k.data, k.meta, k.sign].map((b) => b.toString('hex'));
    expect(new Set(all).size).toBe(5);
    expect(deriveKeys(root).data).toEqual(k.data);
    expect(repoIdFromRoot(root)).toMatch(/^[0-9a-f]{32}$/);
  });
  it('keys blob IDs: same data, different repositories, different IDs', () => {
    const data = Buffer.from('file content');
    expect(blobId(deriveKeys(randomBytes(32)).ids, data)).not.toBe(blobId(deriveKeys(randomBytes(32)).ids, data));
  });
});

describe('recovery phrase', () => {
  it('round-trips 24 words', () => {
    const root = randomBytes(32);
    const phrase = rootToPhrase(root);
    expect(phrase.split(' ')).toHaveLength(24);
    expect(phraseToRoot(`  ${phrase.toUpperCase()}  `)).toEqual(root);
  });
  it('rejects a swapped word and a short phrase with a clear error', () => {
    const words = rootToPhrase(randomBytes(32)).split(' ');
    [words[0], words[1]] = [words[1] as string, words[0] as string];
    if (words[0] !== words[1]) expect(() => phraseToRoot(words.join(' '))).toThrow(/checksum|not valid/);
    expect(() => phraseToRoot('abandon abandon')).toThrow(/24 words/);
  });
});

describe('key file', () => {
  it('unlocks with the passphrase and refuses a wrong one', async () => {
    const root = randomBytes(32);
    const kf = await makeKeyFile(root, 'ab', 'secret');
    expect(await unlockKeyFile(kf, 'secret', 'k')).toEqual(root);
    await expect(unlockKeyFile(kf, 'Secret', 'k')).rejects.toThrow(WrongPassphraseError);
    await expect(unlockKeyFile({ ...kf, repoId: 'cd' }, 'secret', 'k')).rejects.toThrow(WrongPassphraseError);
  });
});
