// restic's --exclude-file: one pattern a line; blank lines and lines starting with "#" are skipped,
// spaces around a pattern are trimmed.
import { readFile } from 'node:fs/promises';
import { UsageError } from '../util/errors.js';

/** Patterns a backup takes at most (the API's list limit). */
export const MAX_EXCLUDE_PATTERNS = 1000;

export async function readExcludeFiles(files: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new UsageError(`--exclude-file ${file}: ${(err as Error).message}`);
    }
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (line !== '' && !line.startsWith('#')) out.push(line);
    }
  }
  return out;
}

/** --exclude and --exclude-file together, at most MAX_EXCLUDE_PATTERNS. */
export async function excludesOf(opts: { exclude?: string[]; excludeFile?: string[] }): Promise<string[]> {
  const all = [...(opts.exclude ?? []), ...(await readExcludeFiles(opts.excludeFile ?? []))];
  if (all.length > MAX_EXCLUDE_PATTERNS) throw new UsageError(`${all.length} exclude patterns: at most ${MAX_EXCLUDE_PATTERNS}`);
  return all;
}
