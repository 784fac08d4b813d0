// Sizes and times as people see them everywhere (protocol/format.ts), and schedules in words.
import { describe, expect, test } from 'vitest';
import { formatBytes, formatTime, plural } from '../../../protocol/format.js';
import { scheduleWords } from '../../src/cli/format.js';

describe('human words', () => {
  test('sizes in binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(2147483648)).toBe('2.00 GiB');
    expect(formatBytes(4594543879)).toBe('4.28 GiB');
    expect(formatBytes(480 * 1024 * 1024)).toBe('480.0 MiB');
  });

  test('times as YYYY-MM-DD HH:MM:SS in the local zone', () => {
    const iso = '2026-12-04T23:41:07.123Z';
    const d = new Date(iso);
    const p = (n: number) => String(n).padStart(2, '0');
    expect(formatTime(iso)).toBe(`${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:07`);
    expect(formatTime(iso, { seconds: false })).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d$/);
    expect(formatTime('not a time')).toBe('not a time');
  });

  test('counts with their noun', () => {
    expect(plural(1, 'copy', 'copies')).toBe('1 copy');
    expect(plural(2, 'copy', 'copies')).toBe('2 copies');
    expect(plural(0, 'file')).toBe('0 files');
  });

  test('schedules in words, with the cron text', () => {
    expect(scheduleWords('*/15 * * * *')).toBe('every 15 minutes (*/15 * * * *)');
    expect(scheduleWords('0 3 * * *')).toBe('at 03:00 (0 3 * * *)');
    expect(scheduleWords('not cron')).toBe('not cron');
  });
});
