// Key hierarchy: one random 32-byte root secret per repository; the repository ID and every working
// key are derived from it with HKDF-SHA256 (fixed salt, info = a fixed label), so the recovery
// phrase (the root) alone restores them all.
import { hkdfSync } from 'node:crypto';

export const ROOT_SECRET_BYTES = 32;

export const KEY_LABELS = {
  ids: 'cairn/v1/blob-ids',
  chunker: 'cairn/v1/chunker-gear',
  data: 'cairn/v1/data-aead',
  meta: 'cairn/v1/meta-aead',
  sign: 'cairn/v1/sign-ed25519-seed',
  repoId: 'cairn/v1/repo-id',
} as const;

const HKDF_SALT = Buffer.from('cairn/v1');
export const REPO_ID_BYTES = 16;

function derive(root: Uint8Array, label: string, bytes: number): Buffer {
  if (root.length !== ROOT_SECRET_BYTES) throw new Error(`root secret must be ${ROOT_SECRET_BYTES} bytes`);
  return Buffer.from(hkdfSync('sha256', root, HKDF_SALT, label, bytes));
}

/** The repository ID (hex): public, names the repository to friends; derived so recovery finds it. */
export function repoIdFromRoot(root: Uint8Array): string {
  return derive(root, KEY_LABELS.repoId, REPO_ID_BYTES).toString('hex');
}

export interface RepoKeys {
  /** HMAC-SHA256 key for blob IDs. */
  ids: Buffer;
  /** Seed of the FastCDC gear table. */
  chunker: Buffer;
  /** XChaCha20-Poly1305 key for data blobs. */
  data: Buffer;
  /** XChaCha20-Poly1305 key for tree and snapshot blobs and pack headers. */
  meta: Buffer;
  /** Ed25519 seed for signing heads (used by the mesh). */
  sign: Buffer;
}

export function deriveKeys(root: Uint8Array): RepoKeys {
  return {
    ids: derive(root, KEY_LABELS.ids, 32),
    chunker: derive(root, KEY_LABELS.chunker, 32),
    data: derive(root, KEY_LABELS.data, 32),
    meta: derive(root, KEY_LABELS.meta, 32),
    sign: derive(root, KEY_LABELS.sign, 32),
  };
}
