// backup --stdin: a snapshot of one stream as one file (snapshot/stdin-archiver.ts). It runs under
// ops/run-backup.ts (the write lock, the activity record), the one place a backup is started.
import type { BackupResult, StdinBackupArgs } from '../../../protocol/api.js';
import { StdinArchiver } from '../snapshot/stdin-archiver.js';

export { checkStdinFilename } from '../snapshot/stdin-archiver.js';
import type { ClockDeps, RepoDeps } from './services.js';

export async function stdinBackupOp(
  svc: RepoDeps & ClockDeps,
  args: StdinBackupArgs,
  input: AsyncIterable<Uint8Array>,
  onStart?: (a: StdinArchiver) => void,
): Promise<BackupResult> {
  const archiver = new StdinArchiver(svc.repo, { filename: args.filename, tags: args.tags, clock: svc.clock });
  onStart?.(archiver);
  const { id, snapshot } = await archiver.run(input);
  return { id, shortId: id.slice(0, 8), time: snapshot.time, paths: snapshot.paths, tags: snapshot.tags, parent: null, unreadable: 0, ...snapshot.summary };
}
