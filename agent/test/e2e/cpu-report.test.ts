// CAIRN_CPU_REPORT=FILE (util/thread-cpu.ts): a command writes, as it exits, the CPU seconds of its
// main thread and of its seal workers, for the benchmark's per-stage table. A real `cairn backup`
// process (from dist/) of data large enough to use the workers (chunks of 64 KiB and more go to
// them when the machine has more than one core).
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cairn, cairnJson, tempDir } from '../helpers/cli.js';
import { writeSampleTree } from '../helpers/sample-tree.js';

const MIB = 1024 * 1024;

describe('CAIRN_CPU_REPORT', () => {
  it("a backup writes its main thread's and seal workers' CPU seconds", async () => {
    const work = await tempDir('cairn-cpu-report-');
    const home = join(work, 'home');
    const src = join(work, 'src');
    await writeSampleTree(src, { seed: 3, entries: [{ kind: 'random', path: 'big.bin', size: 24 * MIB }] });
    await cairnJson(['init'], { home });
    const file = join(work, 'cpu.json');
    const r = await cairn(['backup', src, '--json'], { home, env: { CAIRN_CPU_REPORT: file } });
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(await readFile(file, 'utf8')) as { mainS: number; workersS: Record<string, number> };
    expect(report.mainS).toBeGreaterThan(0);
    if (availableParallelism() > 1) expect(report.workersS.seal).toBeGreaterThan(0);
    else expect(report.workersS).toEqual({});
  }, 120_000);
});
