// The Docker-volume part of `npm run bench` (CAIRN_BENCH_ONLY=volume): the benchmark data set
// (pg/ and files/, bench/dataset.ts) copied into one Docker volume, then backed up by Cairn through
// the volume's mountpoint and through a helper container (`--volume-read mountpoint|helper`), each
// into a fresh home of its own, first backup and unchanged re-run, same machine, same run.
//
// Needs a Docker engine (DOCKER_HOST, as the agent finds it) whose volume mountpoints this process
// can write (the data is copied in with cp -a); the volume is removed afterwards.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { treeStats } from './dataset.js';
import { run, runOk, waitForQuiet, type RunResult } from './exec.js';
import { commandRow, escape, MB, MIB, existingMarked, mergeMarked } from './report.js';
import type { CommandRecord } from './results.js';
import { BENCH_PASSPHRASE } from './tools.js';

export const VOLUME_BEGIN = '<!-- volume:begin (bench/volume.ts) -->';
export const VOLUME_END = '<!-- volume:end -->';

export interface VolumeBenchConfig {
  root: string;
  workDir: string;
  /** The data set (holding pg/ and files/). */
  dataDir: string;
  quietWaitS: number;
  quietBusyCores: number;
  log(text: string): void;
}

interface PathResult {
  how: 'mountpoint' | 'helper';
  first: { seconds: number; rss: number | null; added: number; files: number };
  rerun: { seconds: number; rss: number | null; added: number; reused: number };
}

export interface VolumeReport {
  startedAt: Date;
  dataBytes: number;
  files: number;
  results: PathResult[];
  commands: CommandRecord[];
  error: string | null;
}

interface BackupJson {
  id: string;
  files: number;
  filesReused: number;
  addedBytes: number;
  volumes: Array<{ via: string }>;
}

export async function runVolumeBench(cfg: VolumeBenchConfig): Promise<VolumeReport> {
  const startedAt = new Date();
  const report: VolumeReport = { startedAt, dataBytes: 0, files: 0, results: [], commands: [], error: null };
  const volume = `cairn-bench-volume-${process.pid}`;
  const base = join(cfg.workDir, 'volume');
  try {
    await rm(base, { recursive: true, force: true });
    await mkdir(base, { recursive: true });
    await runOk('docker', ['volume', 'create', volume]);
    const mountpoint = (await runOk('docker', ['volume', 'inspect', '--format', '{{.Mountpoint}}', volume])).stdout.trim();
    cfg.log(`copying the data set into Docker volume ${volume} (${mountpoint})`);
    await runOk('cp', ['-a', join(cfg.dataDir, 'pg'), join(cfg.dataDir, 'files'), mountpoint], { timeoutMs: 60 * 60 * 1000 });
    const stats = await treeStats([mountpoint]);
    report.dataBytes = stats.bytes;
    report.files = stats.files;
    cfg.log(`volume: ${(stats.bytes / MB).toFixed(0)} MB in ${stats.files} files`);

    const bin = join(cfg.root, 'bin', 'cairn.js');
    for (const how of ['mountpoint', 'helper'] as const) {
      const home = join(base, how, 'home');
      await mkdir(join(base, how), { recursive: true });
      const env: Record<string, string> = { ...(process.env as Record<string, string>), CAIRN_HOME: home, CAIRN_PASSPHRASE: BENCH_PASSPHRASE };
      const cairn = (args: string[]) => runOk(process.execPath, [bin, ...args], { env, cwd: cfg.root, timeoutMs: 60 * 60 * 1000 });
      await cairn(['init', '--json']);
      const backup = async (step: string): Promise<{ r: RunResult; j: BackupJson }> => {
        const r = await measure(cfg, report, `${how}`, step, () => cairn(['backup', `volume:${volume}`, '--volume-read', how, '--json']));
        const j = JSON.parse(r.stdout) as BackupJson;
        if (j.volumes[0]?.via !== how) throw new Error(`backup read the volume via ${j.volumes[0]?.via}, not ${how}`);
        return { r, j };
      };
      const first = await backup('first backup');
      const rerun = await backup('unchanged re-run');
      report.results.push({
        how,
        first: { seconds: first.r.seconds, rss: first.r.peakRssBytes, added: first.j.addedBytes, files: first.j.files },
        rerun: { seconds: rerun.r.seconds, rss: rerun.r.peakRssBytes, added: rerun.j.addedBytes, reused: rerun.j.filesReused },
      });
    }
  } catch (e) {
    report.error = (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? 'failed';
    cfg.log(`volume benchmark failed: ${report.error}`);
  } finally {
    await run('docker', ['volume', 'rm', '-f', volume]);
    await rm(base, { recursive: true, force: true });
  }
  return report;
}

async function measure(cfg: VolumeBenchConfig, report: VolumeReport, tool: string, step: string, fn: () => Promise<RunResult>): Promise<RunResult> {
  await runOk('sync', []);
  if (cfg.quietWaitS > 0) {
    const q = await waitForQuiet(cfg.quietBusyCores, cfg.quietWaitS * 1000);
    if (!q.quiet) cfg.log(`machine still busy (${q.busyCores.toFixed(2)} cores) after waiting ${q.waitedSeconds.toFixed(0)} s; measuring anyway`);
  }
  cfg.log(`Cairn via ${tool}: ${step}...`);
  const r = await fn();
  report.commands.push({
    command: r.command,
    seconds: r.seconds,
    peakRssBytes: r.peakRssBytes,
    cpuSeconds: r.cpuSeconds,
    otherCpuSeconds: r.otherCpuSeconds,
    tool: `Cairn (${tool})`,
    step,
    ok: true,
    error: null,
  });
  cfg.log(`Cairn via ${tool}: ${step} ${r.seconds.toFixed(2)} s`);
  return r;
}

export function renderVolumeSection(r: VolumeReport, info: { command: string; machine: string; load: string; abbreviate(s: string): string }): string {
  const by = (how: string) => r.results.find((x) => x.how === how);
  const m = by('mountpoint');
  const h = by('helper');
  const cell = (p: PathResult | undefined, f: (p: PathResult) => string) => (p ? f(p) : 'n/a');
  const mib = (b: number | null) => (b === null ? '?' : (b / MIB).toFixed(0));
  const rows: Array<[string, (p: PathResult) => string]> = [
    ['First backup: time (s)', (p) => p.first.seconds.toFixed(2)],
    ['First backup: throughput (MB/s)', (p) => (r.dataBytes / MB / p.first.seconds).toFixed(1)],
    ['First backup: added to the repository (MB)', (p) => (p.first.added / MB).toFixed(1)],
    ['First backup: peak RSS (MiB)', (p) => mib(p.first.rss)],
    ['Unchanged re-run: time (s)', (p) => p.rerun.seconds.toFixed(2)],
    ['Unchanged re-run: files not read again', (p) => `${p.rerun.reused} of ${p.first.files}`],
    ['Unchanged re-run: added (MB)', (p) => (p.rerun.added / MB).toFixed(3)],
    ['Unchanged re-run: peak RSS (MiB)', (p) => mib(p.rerun.rss)],
  ];
  const lines = [
    VOLUME_BEGIN,
    '## Docker volume: mountpoint vs helper container',
    '',
    `Generated by \`npm run bench\` (bench/volume.ts) on ${r.startedAt.toISOString()}; do not edit by hand.`,
    '',
    `- **Command:** \`${info.command}\``,
    `- **Machine:** ${info.machine}`,
    `- **Other load:** ${info.load}`,
    `- **Data:** the benchmark data set (pg/ and files/, as in the tool comparison) copied with \`cp -a\` into one Docker volume: ${(r.dataBytes / MB).toFixed(0)} MB in ${r.files} files.`,
    '- **Runs:** `cairn backup volume:NAME --volume-read mountpoint` and then `--volume-read helper`, each into a fresh home of its own (so both first backups store everything), each followed by an unchanged re-run. The mountpoint path reads the files itself (and on the re-run skips unchanged files through its local cache); the helper path streams the whole volume as an uncompressed tar from a never-started helper container through the Engine API every time, and dedup keeps the re-run from storing anything.',
    '',
  ];
  if (r.error !== null) lines.push(`**The volume benchmark failed:** ${escape(r.error)}`, '');
  lines.push('| metric | mountpoint | helper container |', '|---|---:|---:|');
  for (const [label, f] of rows) lines.push(`| ${label} | ${cell(m, f)} | ${cell(h, f)} |`);
  lines.push('', '### Volume commands', '');
  lines.push('| tool | step | wall s | CPU s | other CPU s | peak RSS (MiB) | result | command |', '|---|---|---:|---:|---:|---:|---|---|');
  for (const c of r.commands) lines.push(commandRow(c, info.abbreviate));
  lines.push(
    '',
    'Throughput = bytes of regular files in the volume (MB = 10^6 bytes) / wall-clock seconds of the command, CLI start-up included. Both paths give the same trees (SPEC 6.1). On the helper path the engine (dockerd) walks the volume and writes the tar: its CPU counts as "other CPU s", not as the command\'s.',
    VOLUME_END,
  );
  return lines.join('\n');
}

/** Replaces the volume section of an existing report (or appends it). */
export function mergeVolumeSection(existing: string, section: string): string {
  return mergeMarked(existing, VOLUME_BEGIN, VOLUME_END, section);
}

/** The volume section of an existing report, to carry over when the engine part rewrites the report. */
export function existingVolumeSection(existing: string | null): string | null {
  return existingMarked(existing, VOLUME_BEGIN, VOLUME_END);
}
