// The benchmark data set: built (or reused) with ../shared/bench/make-dataset.sh, copied into a
// working directory so the mutation step never touches the original, and measured.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { lstat, mkdir, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { join } from 'node:path';
import { runOk } from './exec.js';

export const SOURCE_DIRS = ['pg', 'files'] as const;
const HASH_CONCURRENCY = 4;
/** make-dataset.sh's default pgbench scale. */
const DEFAULT_SCALE = '30';
/** Written next to pg/ and files/ when the harness builds a data set: the scale used. */
const SCALE_FILE = 'bench-scale';

export function datasetScript(repoRoot: string): string {
  return join(repoRoot, '..', 'shared', 'bench', 'make-dataset.sh');
}

export function isDataset(dir: string): boolean {
  return SOURCE_DIRS.every((d) => existsSync(join(dir, d)));
}

/** Builds DIR with make-dataset.sh unless DIR/pg and DIR/files exist. Returns seconds spent (0 when reused). */
export async function ensureDataset(script: string, dir: string, scale: string | undefined): Promise<number> {
  if (isDataset(dir)) return 0;
  if (!existsSync(script)) throw new Error(`${script} is missing; cannot build the data set`);
  const r = await runOk('bash', [script, dir, ...(scale === undefined ? [] : [scale])], { timeoutMs: 60 * 60 * 1000 });
  await writeFile(join(dir, SCALE_FILE), `${scale ?? DEFAULT_SCALE}\n`);
  return r.seconds;
}

/** The pgbench scale the data set was built with, when the harness built it (SCALE_FILE). */
export async function datasetScale(dir: string): Promise<string | null> {
  const text = await readFile(join(dir, SCALE_FILE), 'utf8').catch(() => null);
  return text === null ? null : text.trim();
}

/** Fresh copy of DIR/pg and DIR/files into `to` (owners and modes kept, so PostgreSQL still starts). */
export async function copyDataset(from: string, to: string): Promise<number> {
  await rm(to, { recursive: true, force: true });
  await mkdir(to, { recursive: true });
  const r = await runOk('cp', ['-a', ...SOURCE_DIRS.map((d) => join(from, d)), to], { timeoutMs: 60 * 60 * 1000 });
  return r.seconds;
}

/** Runs pgbench transactions against DIR/pg (make-dataset.sh mutate). Returns seconds spent. */
export async function mutateDataset(script: string, dir: string): Promise<number> {
  const r = await runOk('bash', [script, 'mutate', dir], { timeoutMs: 60 * 60 * 1000 });
  return r.seconds;
}

export interface TreeStats {
  files: number;
  symlinks: number;
  /** Sum of the apparent sizes of regular files. */
  bytes: number;
  /**
   * Layout-independent content digest: SHA-256 over the sorted list of per-file content hashes
   * and symlink targets. Each tool lays a restore out differently (restic and borg keep the
   * absolute source path, others may not), so paths are left out; contents are what must match.
   */
  digest: string;
}

export async function treeStats(roots: string[]): Promise<TreeStats> {
  const files: string[] = [];
  const entries: string[] = [];
  let symlinks = 0;
  let bytes = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const ent of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, ent.name);
      if (ent.isDirectory()) await walk(p);
      else if (ent.isSymbolicLink()) {
        symlinks++;
        entries.push(`l ${await readlink(p)}`);
      } else if (ent.isFile()) files.push(p);
    }
  };
  for (const r of roots) await walk(r);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const p = files[next++] as string;
      const st = await lstat(p);
      bytes += st.size;
      const h = createHash('sha256');
      await pipeline(createReadStream(p), h);
      entries.push(`f ${h.digest('hex')}`);
    }
  };
  await Promise.all(Array.from({ length: HASH_CONCURRENCY }, worker));
  entries.sort();
  const digest = createHash('sha256').update(entries.join('\n')).digest('hex');
  return { files: files.length, symlinks, bytes, digest };
}

/** Disk usage in bytes (`du -s -B1`), 0 when the path does not exist. */
export async function diskUsage(path: string): Promise<number> {
  if (!existsSync(path)) return 0;
  const r = await runOk('du', ['-s', '-B1', path]);
  return Number(r.stdout.split(/\s/)[0]);
}
