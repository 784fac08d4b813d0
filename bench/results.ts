import type { ThreadCpu } from './exec.js';
// What a benchmark run collected: one cell per (tool, metric), and a record of every command.
export type Cell = { kind: 'value'; value: number } | { kind: 'text'; text: string } | { kind: 'failed'; error: string } | { kind: 'skipped'; reason: string };

export interface CommandRecord {
  tool: string;
  step: string;
  command: string;
  seconds: number;
  peakRssBytes: number | null;
  cpuSeconds: number | null;
  otherCpuSeconds: number | null;
  threadCpu?: ThreadCpu;
  ok: boolean;
  error: string | null;
}

export class Results {
  private readonly cells = new Map<string, Cell>();
  readonly commands: CommandRecord[] = [];

  set(tool: string, metric: string, value: number): void {
    this.cells.set(key(tool, metric), { kind: 'value', value });
  }

  text(tool: string, metric: string, text: string): void {
    this.cells.set(key(tool, metric), { kind: 'text', text });
  }

  /** Marks every metric in `metrics` that has no cell yet as failed (or skipped). */
  fill(tool: string, metrics: readonly string[], cell: Cell): void {
    for (const m of metrics) if (!this.cells.has(key(tool, m))) this.cells.set(key(tool, m), cell);
  }

  get(tool: string, metric: string): Cell | undefined {
    return this.cells.get(key(tool, metric));
  }

  value(tool: string, metric: string): number | undefined {
    const c = this.get(tool, metric);
    return c?.kind === 'value' ? c.value : undefined;
  }
}

function key(tool: string, metric: string): string {
  return `${tool}\u0000${metric}`;
}
