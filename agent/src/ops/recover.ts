// `cairn recover`: a repository created from the recovery phrase, with the snapshot list and pack
// locations fetched from a friend, and the settings files the snapshot list carried written back.
// The composition root creates the repository and starts the mesh (compose-root.ts: openRoot with
// `create`); this pairs, recovers and writes the settings.
import { hostname } from 'node:os';
import { phraseToRoot } from '../crypto/phrase.js';
import { recoverFromFriends, type RecoverResult } from '../mesh/recover.js';
import { writeRecoveredSettings, type RecoveredSettings, type SettingsPaths } from './carried-settings.js';
import { checkNewPassphrase } from './passphrase-policy.js';
import type { MeshDeps, RepoDeps } from './services.js';

/** The root secret a recovery phrase encodes (a UsageError when it is not a valid phrase). */
export function recoveryRoot(phrase: string): Buffer {
  return phraseToRoot(phrase);
}

/** The new repository's passphrase, checked before anything is created (E_WEAK_PASSPHRASE). */
export async function checkRecoveryPassphrase(passphrase: string): Promise<void> {
  await checkNewPassphrase(passphrase, [hostname()]);
}

export interface RecoverOptions {
  invite: string;
  /** Where the settings the head carried go (cairn.yaml, notifications.json). */
  settingsPaths: SettingsPaths;
}

/** What `cairn recover` shows: the settings files as written, never their text (it may hold passwords). */
export type RecoverReport = Omit<RecoverResult, 'settings'> & { repoId: string; peerId: string; settings: RecoveredSettings['written'] };

/**
 * `cairn recover`: the repository just created from the recovery phrase, paired with the friend of
 * the invite through the mesh (a node on an ephemeral loopback port), and the snapshot list and
 * pack locations fetched. `show` sees the result while the repository and mesh are still open (the
 * caller closes them after).
 */
export async function recoverOp<T>(svc: RepoDeps & MeshDeps, opts: RecoverOptions, show: (r: RecoverReport) => T): Promise<T> {
  const { repo, mesh } = svc;
  const { settings, ...r } = await recoverFromFriends(repo, mesh, opts.invite);
  // the config comes back: sources, schedules, retention, notification channels
  const written = await writeRecoveredSettings(settings, opts.settingsPaths);
  return show({ repoId: repo.config.repoId, peerId: mesh.peerId, ...r, warnings: [...r.warnings, ...written.warnings], settings: written.written });
}
