// A step that keeps a terminal silent for more than a second says what it is doing; a quick one, or
// one whose stderr is not a terminal, prints nothing (issue 21 item 10).
import { afterEach, describe, expect, test, vi } from 'vitest';
import { noticeIfSlow, SILENT_MS } from '../../src/cli/slow-step.js';

function fakeStream(isTTY: boolean) {
  const lines: string[] = [];
  return { lines, stream: { isTTY, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream };
}

describe('noticeIfSlow', () => {
  afterEach(() => vi.useRealTimers());

  test('says what it does after a second on a terminal; nothing when done sooner or not a terminal', () => {
    vi.useFakeTimers();
    const slow = fakeStream(true);
    const stopSlow = noticeIfSlow('unlocking the key file', slow.stream);
    vi.advanceTimersByTime(SILENT_MS + 1);
    stopSlow();
    expect(slow.lines).toEqual(['cairn: unlocking the key file...\n']);

    const quick = fakeStream(true);
    const stopQuick = noticeIfSlow('unlocking the key file', quick.stream);
    vi.advanceTimersByTime(SILENT_MS - 100);
    stopQuick();
    vi.advanceTimersByTime(5_000);
    expect(quick.lines).toEqual([]);

    const piped = fakeStream(false);
    const stopPiped = noticeIfSlow('unlocking the key file', piped.stream);
    vi.advanceTimersByTime(5_000);
    stopPiped();
    expect(piped.lines).toEqual([]);
  });
});
