// The home of a `cairn relay` (SPEC 8, SPEC 13.1 "The relay agent"): no repository, no passphrase.
//   relay-key    the relay's libp2p private key (protobuf, mode 0600): its PeerId, which friends
//                keep in their friend book; made at the first start
//   state/       LevelDB: its friends and the invites it issued (the agent's `friends` and
//                `invites` sublevels, nothing else is written)
//   relay.json   while it runs: its local API address and token, pid, PeerId, addresses (mode 0600)
//   relay-budget.json  what it relayed for each friend today (relay-budget-file.ts, mode 0600)
//   cairn.yaml   optional: listen, announce, name and relay (rate, daily), as for an agent
// A home holding a repository is refused: a relay needs a home of its own.
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { homePaths } from '../repo/home.js';
export { relayInfoPath } from '../repo/home.js';
import { openStateDb, type StateDb, type Sublevels } from '../state/db.js';
import { CairnError, UsageError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fsx.js';

export function relayKeyPath(home: string): string {
  return join(home, 'relay-key');
}

export interface RelayHome {
  privateKey: PrivateKey;
  db: StateDb;
  state: Sublevels;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Opens (making on first use) a relay's home: its key and its state database. */
export async function openRelayHome(home: string): Promise<RelayHome> {
  if (await exists(homePaths(home).repo))
    throw new UsageError(`${home} holds a repository: a relay needs a home of its own (--home DIR or CAIRN_HOME)`, 'E_EXISTS');
  await mkdir(home, { recursive: true, mode: 0o700 });
  const keyFile = relayKeyPath(home);
  let privateKey: PrivateKey;
  if (await exists(keyFile)) {
    try {
      privateKey = privateKeyFromProtobuf(await readFile(keyFile));
    } catch (err) {
      throw new CairnError('E_STATE', `the relay's key ${keyFile} is unreadable: ${(err as Error).message}`);
    }
  } else {
    privateKey = await generateKeyPair('Ed25519');
    await writeFileAtomic(keyFile, privateKeyToProtobuf(privateKey), 0o600);
  }
  const { db, sub } = await openStateDb(join(home, 'state'));
  return { privateKey, db, state: sub };
}
