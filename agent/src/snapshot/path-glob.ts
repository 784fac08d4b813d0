// One rule for a glob against an entry of a tree, shared by backup excludes and `find`: a pattern
// starting with "/" matches the whole path, one with a "/" inside matches the end of the path, any
// other the entry's name (SPEC "Excludes").
import { matchesGlob } from 'node:path';

export function pathGlobMatches(pattern: string, path: string, name: string): boolean {
  if (pattern.startsWith('/')) return matchesGlob(path, pattern);
  return pattern.includes('/') ? matchesGlob(path, `**/${pattern}`) : matchesGlob(name, pattern);
}

/** Whether exclude `patterns` leave out an entry (a trailing "/" matches directories only): backup and restore excludes. */
export function excludedBy(patterns: readonly string[], path: string, name: string, isDir: boolean): boolean {
  for (const raw of patterns) {
    const dirOnly = raw.endsWith('/') && raw.length > 1;
    if (dirOnly && !isDir) continue;
    if (pathGlobMatches(dirOnly ? raw.slice(0, -1) : raw, path, name)) return true;
  }
  return false;
}
