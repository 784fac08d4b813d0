// What the CLI's progress line says, in process or following an agent's job: files (of the total),
// bytes of the total with the percentage, the rate and the time left; without a total, no % or ETA.
import { describe, expect, test } from 'vitest';
import { progressEvent, progressText } from '../../src/cli/progress.js';

const MIB = 1024 * 1024;

describe('progress line', () => {
  test('with the totals of the scan: files of all, bytes of all (percentage), rate, ETA', () => {
    const line = progressText('backup', { files: 12, totalFiles: 40, bytes: 256 * MIB, totalBytes: 1024 * MIB }, 128 * MIB);
    expect(line).toBe('backup: 12/40 files, 256.0 MiB of 1.00 GiB (25%), 128.0 MiB/s, ETA 6s');
  });

  test('before the scan has finished: no total, no percentage, no ETA', () => {
    expect(progressText('restore', { files: 3, bytes: 10 * MIB }, MIB)).toBe('restore: 3 files, 10.0 MiB, 1.00 MiB/s');
  });

  test('the JSON event carries the same numbers in the agent job progress shape', () => {
    expect(progressEvent({ files: 1, bytes: 5, totalBytes: 10 }, 2.4)).toEqual({
      type: 'progress',
      progress: { files: 1, bytes: 5, bytesPerSec: 2, currentPath: '', totalBytes: 10 },
    });
  });
});
