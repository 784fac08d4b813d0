// Facts about the machine a benchmark ran on, for the report.
import { readFile } from 'node:fs/promises';
import { availableParallelism, cpus, release, totalmem } from 'node:os';
import { run } from './exec.js';

export interface MachineInfo {
  cores: number;
  cpu: string;
  memoryGiB: number;
  kernel: string;
  os: string;
  /** Filesystem type holding `dir` (stores, restores and the working copy of the data). */
  filesystem: string;
  node: string;
}

export async function machineInfo(dir: string): Promise<MachineInfo> {
  const osRelease = await readFile('/etc/os-release', 'utf8').catch(() => '');
  const pretty = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(osRelease)?.[1] ?? 'unknown';
  const fs = await run('df', ['--output=fstype', dir]);
  return {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    os: pretty,
    filesystem: fs.code === 0 ? (fs.stdout.trim().split('\n').pop() ?? 'unknown').trim() : 'unknown',
    node: process.version,
  };
}
