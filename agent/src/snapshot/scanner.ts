// Counts files and bytes below source paths, for progress ETAs. Best effort: errors are ignored.
// Only lstat and readdir (names as bytes); nothing is opened or followed.
import { lstat, readdir } from 'node:fs/promises';

export interface ScanTotals {
  files: number;
  bytes: number;
  done: boolean;
}

export async function scan(paths: string[], totals: ScanTotals, signal: AbortSignal): Promise<void> {
  const visit = async (path: Buffer): Promise<void> => {
    if (signal.aborted) return;
    const st = await lstat(path).catch(() => undefined);
    if (!st) return;
    if (st.isFile()) {
      totals.files += 1;
      totals.bytes += st.size;
    } else if (st.isDirectory()) {
      for (const name of await readdir(path, { encoding: 'buffer' }).catch(() => [] as Buffer[])) await visit(Buffer.concat([path, Buffer.from('/'), name]));
    }
  };
  for (const p of paths) await visit(Buffer.from(p));
  totals.done = !signal.aborted;
}
