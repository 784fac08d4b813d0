// What a CLI command without a running agent works with: the home opened directly for the one
// command, and with `mesh` a mesh node when the repository has friends (restore from friends).
import type { CairnConfig } from '../../../protocol/config.js';
import type { Mesh } from '../mesh/compose.js';
import { Friends } from '../mesh/friend-ledger.js';
import { Repository } from '../repo/repository.js';
import type { Clock } from '../util/clock.js';
import type { Services } from './services.js';

/** A mesh node started by a CLI command listens on an ephemeral loopback port. */
const CLI_MESH_LISTEN = ['/ip4/127.0.0.1/tcp/0'];

export interface LocalServicesOptions {
  clock: Clock;
  config: CairnConfig;
  /** Start a mesh node when the repository has friends. */
  mesh?: boolean;
  /** How many friends should hold each pack (the mesh node's setting). */
  replicas: number;
}

/** Opens the repository of `home` for the duration of `fn`, then closes it (and the mesh node). */
export async function withLocalServices<T>(home: string, passphrase: string, opts: LocalServicesOptions, fn: (svc: Services) => Promise<T>): Promise<T> {
  const repo = await Repository.open(home, passphrase);
  let mesh: Mesh | undefined;
  try {
    if (opts.mesh) {
      // libp2p is loaded only when there are friends to reach
      if (await new Friends(repo.state).any())
        mesh = await (
          await import('../mesh/compose.js')
        ).createMesh(repo, { listen: CLI_MESH_LISTEN, name: 'cli', replicas: opts.replicas, diskFloorBytes: 0, clock: opts.clock });
    }
    const config = opts.config;
    return await fn({ home, repo, clock: opts.clock, config: () => config, ...(mesh ? { mesh } : {}) });
  } finally {
    await mesh?.stop();
    await repo.close();
  }
}
