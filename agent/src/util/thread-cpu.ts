// CPU time by kind of thread, for the benchmark's per-stage table (BENCHMARKS.md): with
// CAIRN_CPU_REPORT=FILE a command writes, as it exits, the CPU seconds of its main thread and of
// each kind of worker thread (each worker tells its own, process.threadCpuUsage, before it is
// closed). What the process used beyond them went to Node's own threads (V8's garbage collector
// helpers, libuv's file system pool). Without the variable nothing is measured or written.
import { writeFileSync } from 'node:fs';

export interface ThreadCpuReport {
  /** CPU seconds (user + system) of the main thread. */
  mainS: number;
  /** CPU seconds per kind of worker thread (e.g. "seal"), summed over its threads. */
  workersS: Record<string, number>;
}

const workers = new Map<string, number>();

/** Whether a report was asked for (CAIRN_CPU_REPORT). */
export function cpuReportWanted(): boolean {
  return (process.env.CAIRN_CPU_REPORT ?? '') !== '';
}

/** Adds a worker thread's own CPU use (process.threadCpuUsage() inside it, microseconds). */
export function addWorkerCpu(kind: string, usage: { user: number; system: number }): void {
  workers.set(kind, (workers.get(kind) ?? 0) + (usage.user + usage.system) / 1e6);
}

/** Writes the report when the process exits, if one was asked for. */
export function installCpuReport(): void {
  const file = process.env.CAIRN_CPU_REPORT;
  if (!file) return;
  process.once('exit', () => {
    const main = process.threadCpuUsage();
    const report: ThreadCpuReport = { mainS: (main.user + main.system) / 1e6, workersS: Object.fromEntries(workers) };
    try {
      writeFileSync(file, `${JSON.stringify(report)}\n`);
    } catch {
      // a report that cannot be written must not change the command's outcome
    }
  });
}
