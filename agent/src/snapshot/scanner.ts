// Counts files and bytes below source paths, for progress ETAs. Best effort: errors are ignored.
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface ScanTotals {
  files: number;
  bytes: number;
  done: boolean;
}

export async function scan(paths: string[], totals: ScanTotals, signal: AbortSignal): Promise<void> {
  const visit = async (path: string): Promise<void> => {
    if (signal.aborted) return;
    const st = await lstat(path).catch(() => undefined);
    if (!st) return;
    if (st.isFile()) {
      totals.files += 1;
      totals.bytes += st.size;
    } else if (st.isDirectory()) {
      for (const name of await readdir(path).catch(() => [] as string[])) await visit(join(path, name));
    }
  };
  for (const p of paths) await visit(p);
  totals.done = !signal.aborted;
}
