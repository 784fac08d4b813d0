// The growth part's report (bench/growth.ts): peak RSS per command on the reference and the larger
// data set, and the verdicts it draws: flat or growing, within 200 MiB or not, a larger set too small
// to count, a restore that does not match; and the section survives a report rewritten around it.
import { describe, expect, test } from 'vitest';
import { existingGrowthSection, mergeGrowthSection, renderGrowthSection, type GrowthRun } from '../../../bench/growth.js';

const MIB = 1024 * 1024;
const meta = { command: 'npm run bench', machine: '2 cores' };

function run(label: string, bytes: number, rss: [number, number, number], matches = true): GrowthRun {
  return {
    label,
    bytes,
    files: 50_000,
    restoreMatches: matches,
    steps: [
      { step: 'first backup', seconds: 10, peakRssBytes: rss[0] * MIB },
      { step: 'unchanged re-run', seconds: 2, peakRssBytes: rss[1] * MIB },
      { step: 'restore', seconds: 12, peakRssBytes: rss[2] * MIB },
    ],
  };
}

describe('growth report', () => {
  test('flat and within 200 MiB: met; each command with both peaks and the change', () => {
    const md = renderGrowthSection([run('reference', 1.5e9, [180, 140, 170]), run('larger', 4.6e9, [185, 141, 175])], meta);
    expect(md).toContain('| first backup | 180 | 185 | +3% |');
    expect(md).toContain('| restore | 170 | 175 | +3% |');
    expect(md).toContain('stays flat');
    expect(md).toContain('for 3.07× the data');
    expect(md).toMatch(/Largest peak: 185 MiB.*: met\./);
    expect(md).not.toContain('below the 3×');
  });

  test('a peak that grows with the data is not met, even under 200 MiB', () => {
    const md = renderGrowthSection([run('reference', 1.5e9, [100, 100, 100]), run('larger', 4.6e9, [100, 150, 100])], meta);
    expect(md).toContain('| unchanged re-run | 100 | 150 | +50% |');
    expect(md).toContain('grows with the data: a peak grew by 50%');
    expect(md).toContain('**not met**');
  });

  test('flat but above 200 MiB is not met', () => {
    const md = renderGrowthSection([run('reference', 1.5e9, [232, 150, 172]), run('larger', 4.6e9, [240, 150, 180])], meta);
    expect(md).toContain('stays flat');
    expect(md).toMatch(/Largest peak: 240 MiB.*\*\*not met\*\*/);
  });

  test('says so when the larger set is under 3x, and when a restore does not match', () => {
    const md = renderGrowthSection([run('reference', 1.5e9, [180, 140, 170]), run('larger', 3.8e9, [185, 141, 175], false)], meta);
    expect(md).toContain('only 2.53× the reference, below the 3×');
    expect(md).toContain('Restores match their sources: NO (larger)');
  });

  test('replaces its own section and is carried over when another part rewrites the report', () => {
    const first = renderGrowthSection([run('reference', 1.5e9, [180, 140, 170]), run('larger', 4.6e9, [185, 141, 175])], meta);
    const report = mergeGrowthSection('# Benchmarks\n\nengine tables\n', first);
    expect(report.startsWith('# Benchmarks\n\nengine tables\n\n')).toBe(true);
    const second = renderGrowthSection([run('reference', 1.5e9, [181, 140, 170]), run('larger', 4.6e9, [190, 141, 175])], meta);
    const replaced = mergeGrowthSection(report, second);
    expect(replaced).toContain('| first backup | 181 | 190 |');
    expect(replaced).not.toContain('| first backup | 180 | 185 |');
    expect(existingGrowthSection(replaced)).toBe(second);
    expect(existingGrowthSection('# Benchmarks\n')).toBeNull();
  });
});
