// The recovery phrase: the 32-byte root secret as 24 BIP-39 English words (256 bits + 8-bit checksum).
import { entropyToMnemonic, mnemonicToEntropy, validateMnemonic } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { UsageError } from '../util/errors.js';

export function rootToPhrase(root: Uint8Array): string {
  return entropyToMnemonic(root, wordlist);
}

export function phraseToRoot(phrase: string): Buffer {
  const normalized = phrase.trim().toLowerCase().split(/\s+/).join(' ');
  if (normalized.split(' ').length !== 24) throw new UsageError('recovery phrase must be 24 words', 'E_PHRASE');
  if (!validateMnemonic(normalized, wordlist))
    throw new UsageError('recovery phrase is not valid: a word is misspelled or out of order (checksum mismatch)', 'E_PHRASE');
  return Buffer.from(mnemonicToEntropy(normalized, wordlist));
}
