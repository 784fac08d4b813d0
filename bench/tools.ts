// The backup tools under comparison, each behind the same small interface. Every tool keeps its
// store (and any client cache) inside the benchmark's working directory, so runs start clean.
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { run, runOk, type RunResult, type ThreadCpu } from './exec.js';

export const BENCH_PASSPHRASE = 'cairn-bench-passphrase';

export interface Tool {
  /** Column name in the report. */
  readonly name: string;
  /** What `du` measures as the tool's store. */
  readonly storeDir: string;
  /** Client-side cache kept outside the store, if the tool has one. */
  readonly cacheDir: string | null;
  version(): Promise<string>;
  init(): Promise<RunResult>;
  /** One backup of `sources`; `label` names it where the tool wants a name. */
  backup(label: string): Promise<RunResult>;
  /** Restores the newest snapshot into the empty directory `target`. */
  restore(target: string): Promise<RunResult>;
  /** Lists the snapshots; `count` is how many there are. */
  snapshots(): Promise<{ run: RunResult; count: number }>;
}

export interface ToolSetup {
  repoRoot: string;
  workDir: string;
  sources: string[];
}

/** `nodeArgs`: Node options each command starts with (the stage profile's --cpu-prof), none by default. */
export function cairnTool(s: ToolSetup, nodeArgs: () => readonly string[] = () => []): Tool {
  const home = join(s.workDir, 'cairn', 'home');
  const bin = join(s.repoRoot, 'bin', 'cairn.js');
  const cpuFile = join(s.workDir, 'cairn', 'cpu.json');
  const env = { CAIRN_HOME: home, CAIRN_PASSPHRASE: BENCH_PASSPHRASE, CAIRN_CPU_REPORT: cpuFile };
  // each command writes its CPU by thread as it exits (agent/src/util/thread-cpu.ts)
  const cairn = async (args: string[], cwd?: string): Promise<RunResult> => {
    await rm(cpuFile, { force: true });
    const r = await runOk(process.execPath, [...nodeArgs(), bin, ...args], { env, cwd: cwd ?? s.repoRoot });
    const report = await readFile(cpuFile, 'utf8').then(
      (t) => JSON.parse(t) as ThreadCpu,
      () => undefined,
    );
    return report === undefined ? r : { ...r, threadCpu: report };
  };
  return {
    name: 'Cairn',
    storeDir: home,
    cacheDir: null,
    async version() {
      const pkg = JSON.parse(await readFile(join(s.repoRoot, 'package.json'), 'utf8')) as { version?: string };
      const rev = await run('git', ['describe', '--always', '--dirty'], { cwd: s.repoRoot });
      return `${pkg.version ?? '?'} (git ${rev.code === 0 ? rev.stdout.trim() : 'unknown'})`;
    },
    async init() {
      await mkdir(join(s.workDir, 'cairn'), { recursive: true });
      return cairn(['init', '--json']);
    },
    async backup() {
      const r = await cairn(['backup', ...s.sources, '--json']);
      const id = parseJson(r.stdout, 'cairn backup --json') as { id?: unknown };
      if (typeof id.id !== 'string' || id.id.length === 0) throw new Error(`cairn backup --json printed no "id": ${r.stdout.trim().slice(0, 120)}`);
      return r;
    },
    restore(target) {
      return cairn(['restore', 'latest', '--target', target]);
    },
    async snapshots() {
      const r = await cairn(['snapshots', '--json']);
      const v = parseJson(r.stdout, 'cairn snapshots --json');
      if (Array.isArray(v)) return { run: r, count: v.length };
      const list = (v as { snapshots?: unknown }).snapshots;
      if (Array.isArray(list)) return { run: r, count: list.length };
      throw new Error(`cairn snapshots --json: expected an array, got ${r.stdout.trim().slice(0, 120)}`);
    },
  };
}

export function resticTool(s: ToolSetup): Tool {
  const repo = join(s.workDir, 'restic', 'repo');
  const cache = join(s.workDir, 'restic', 'cache');
  const env = { RESTIC_PASSWORD: BENCH_PASSPHRASE, RESTIC_CACHE_DIR: cache };
  const restic = (args: string[]) => runOk('restic', ['-r', repo, ...args], { env });
  return {
    name: 'restic',
    storeDir: repo,
    cacheDir: cache,
    async version() {
      return (await runOk('restic', ['version'])).stdout.trim();
    },
    async init() {
      await mkdir(join(s.workDir, 'restic'), { recursive: true });
      return restic(['init']);
    },
    backup() {
      return restic(['backup', ...s.sources]);
    },
    restore(target) {
      return restic(['restore', 'latest', '--target', target]);
    },
    async snapshots() {
      const r = await restic(['snapshots', '--json']);
      const v = parseJson(r.stdout, 'restic snapshots --json');
      if (!Array.isArray(v)) throw new Error('restic snapshots --json: not an array');
      return { run: r, count: v.length };
    },
  };
}

export function borgTool(s: ToolSetup): Tool {
  const repo = join(s.workDir, 'borg', 'repo');
  const base = join(s.workDir, 'borg', 'base'); // cache, config and security dirs
  const env = { BORG_PASSPHRASE: BENCH_PASSPHRASE, BORG_BASE_DIR: base, BORG_DISPLAY_PASSPHRASE: 'no' };
  const borg = (args: string[], cwd?: string) => runOk('borg', args, { env, ...(cwd === undefined ? {} : { cwd }) });
  let last: string | null = null;
  return {
    name: 'borg',
    storeDir: repo,
    cacheDir: base,
    async version() {
      return (await runOk('borg', ['--version'])).stdout.trim();
    },
    async init() {
      await mkdir(base, { recursive: true });
      return borg(['init', '-e', 'repokey', repo]);
    },
    async backup(label) {
      const r = await borg(['create', `${repo}::${label}`, ...s.sources]);
      last = label;
      return r;
    },
    async restore(target) {
      if (last === null) throw new Error('borg: no archive to extract');
      const r = await borg(['extract', `${repo}::${last}`], target);
      return { ...r, command: `cd ${target} && ${r.command}` };
    },
    async snapshots() {
      const r = await borg(['list', '--json', repo]);
      const v = parseJson(r.stdout, 'borg list --json') as { archives?: unknown };
      if (!Array.isArray(v.archives)) throw new Error('borg list --json: no "archives" array');
      return { run: r, count: v.archives.length };
    },
  };
}

/** All tools, in the order they run within each phase. */
export const TOOL_FACTORIES: ReadonlyArray<(s: ToolSetup) => Tool> = [(s) => cairnTool(s), resticTool, borgTool];

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error(`${what}: output is not JSON: ${text.trim().slice(0, 120)}`);
  }
}
