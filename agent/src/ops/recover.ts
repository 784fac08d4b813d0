// `cairn recover`: a repository created from the recovery phrase, with the snapshot list and pack
// locations fetched from a friend, and the settings files the snapshot list carried written back.
import { hostname } from 'node:os';
import { phraseToRoot } from '../crypto/phrase.js';
import { createMesh, type Mesh } from '../mesh/compose.js';
import { recoverFromFriends, type RecoverResult } from '../mesh/recover.js';
import { Repository } from '../repo/repository.js';
import type { Clock } from '../util/clock.js';
import { writeRecoveredSettings, type RecoveredSettings, type SettingsPaths } from './carried-settings.js';
import { checkNewPassphrase } from './passphrase-policy.js';

/** The root secret a recovery phrase encodes (a UsageError when it is not a valid phrase). */
export function recoveryRoot(phrase: string): Buffer {
  return phraseToRoot(phrase);
}

export interface RecoverOptions {
  invite: string;
  clock: Clock;
  /** How many friends should hold each pack (the mesh's setting while recovering). */
  replicas: number;
  /** Where the settings the head carried go (cairn.yaml, notifications.json). */
  settingsPaths: SettingsPaths;
}

/** What `cairn recover` shows: the settings files as written, never their text (it may hold passwords). */
export type RecoverReport = Omit<RecoverResult, 'settings'> & { repoId: string; peerId: string; settings: RecoveredSettings['written'] };

/**
 * `cairn recover`: the repository of `root` created in `home`, paired with the friend of the invite
 * through a mesh node on an ephemeral loopback port, and the snapshot list and pack locations fetched.
 * `show` sees the result while the repository and mesh are still open; both are closed after.
 */
export async function recoverOp<T>(home: string, passphrase: string, root: Buffer, opts: RecoverOptions, show: (r: RecoverReport) => T): Promise<T> {
  await checkNewPassphrase(passphrase, [hostname()]);
  let mesh: Mesh | undefined;
  // the snapshot blobs are read from friends' packs, through the mesh's reader
  const { repo } = await Repository.init(home, passphrase, new Date(opts.clock.now()), root, { reader: () => mesh?.packGet.activeReader });
  try {
    mesh = await createMesh(repo, { listen: ['/ip4/127.0.0.1/tcp/0'], name: 'recovering', replicas: opts.replicas, diskFloorBytes: 0, clock: opts.clock });
    const { settings, ...r } = await recoverFromFriends(repo, mesh, opts.invite);
    // the config comes back: sources, schedules, retention, notification channels
    const written = await writeRecoveredSettings(settings, opts.settingsPaths);
    return show({ repoId: repo.config.repoId, peerId: mesh.peerId, ...r, warnings: [...r.warnings, ...written.warnings], settings: written.written });
  } finally {
    await mesh?.stop();
    await repo.close();
  }
}
