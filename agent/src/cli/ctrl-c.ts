// Ctrl-C during an operation this process runs itself (no agent holds the home): the operation's
// AbortSignal fires and it stops at its next safe point (a backup commits no snapshot, a restore
// leaves only whole files), then the command exits 130 with one line saying so and what remains,
// as a job followed through the agent does (job-follow.ts). A second Ctrl-C stops at once.
import { CancelledError, EXIT_INTERRUPTED, InterruptedError } from '../util/errors.js';

/** What a cancelled operation leaves, said after "<label> cancelled: ". */
export const AFTER_CANCEL = {
  backup: 'no snapshot was written; the data already stored is reused by the next backup',
  restore: 'the files restored so far are whole (a file cut short is removed); run the restore again to finish',
  volumeRestore: 'a volume the restore created was removed again; an existing volume holds only whole files (run the restore again to finish)',
  prune: 'nothing was deleted or repacked',
  check: 'nothing was changed',
} as const;

/**
 * Runs `work` with a signal that the first Ctrl-C (SIGINT) fires with a CancelledError. When the
 * work then stops with that CancelledError, throws an InterruptedError (exit 130):
 * "<label> cancelled: <whatRemains>".
 */
export async function cancelOnCtrlC<T>(label: string, whatRemains: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const abort = new AbortController();
  const onSigint = () => {
    if (abort.signal.aborted) {
      process.stderr.write(`cairn: ${label} stopped at once (second Ctrl-C)\n`);
      process.exit(EXIT_INTERRUPTED);
    }
    process.stderr.write(`\ncancelling the ${label} at its next safe point (Ctrl-C again to stop at once)\n`);
    abort.abort(new CancelledError('cancelled by Ctrl-C'));
  };
  process.on('SIGINT', onSigint);
  try {
    return await work(abort.signal);
  } catch (err) {
    if (abort.signal.aborted && err instanceof CancelledError) throw new InterruptedError(`${label} cancelled: ${whatRemains}`);
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
