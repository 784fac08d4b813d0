// The engine benchmark's report (bench/report.ts): CPU-s per GB next to MB/s, and Cairn's CPU by
// thread per step (main thread, each kind of worker, and the rest: Node's own threads), from the
// reports Cairn's commands write (CAIRN_CPU_REPORT).
import { describe, expect, test } from 'vitest';
import { renderReport } from '../../../bench/report.js';
import { Results, type CommandRecord } from '../../../bench/results.js';

function command(tool: string, step: string, cpuSeconds: number, threadCpu?: CommandRecord['threadCpu']): CommandRecord {
  return {
    tool,
    step,
    command: `${tool} ${step}`,
    seconds: 10,
    peakRssBytes: 100 * 1024 * 1024,
    cpuSeconds,
    otherCpuSeconds: 0,
    ok: true,
    error: null,
    ...(threadCpu ? { threadCpu } : {}),
  };
}

describe('engine report', () => {
  test("CPU-s per GB rows and Cairn's CPU by thread", () => {
    const r = new Results();
    r.set('Cairn', 'first.cpugb', 11.25);
    r.set('restic', 'first.cpugb', 9.5);
    r.commands.push(command('Cairn', 'init', 0.5, { mainS: 0.4, workersS: {} }));
    r.commands.push(command('Cairn', 'first backup', 17, { mainS: 10.4, workersS: { seal: 2.6 } }));
    r.commands.push(command('restic', 'first backup', 15));
    r.commands.push(command('Cairn', 'restore', 8, { mainS: 6, workersS: {} }));
    const md = renderReport({ tools: ['Cairn', 'restic'], results: r, title: 'T', preamble: [], notes: [], abbreviate: (s) => s });
    expect(md).toContain('| First backup: CPU-s per GB | 11.25 | 9.50 |');
    const table = md.slice(md.indexOf("## Cairn's CPU by thread"), md.indexOf('## Every command'));
    expect(table.split('\n').filter((l) => l.startsWith('|'))).toEqual([
      "| step | main thread (s) | seal workers (s) | Node's own threads (s) | all (s) |",
      '|---|---:|---:|---:|---:|',
      '| first backup | 10.40 | 2.60 | 4.00 | 17.00 |',
      '| restore | 6.00 | 0.00 | 2.00 | 8.00 |',
    ]);
  });

  test('no table when no command reported its threads', () => {
    const r = new Results();
    r.commands.push(command('restic', 'first backup', 15));
    expect(renderReport({ tools: ['restic'], results: r, title: 'T', preamble: [], notes: [], abbreviate: (s) => s })).not.toContain('CPU by thread');
  });
});
