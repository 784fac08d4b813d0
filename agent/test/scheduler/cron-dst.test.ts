// Cron slots across DST changes, in a node process whose local zone is Europe/Berlin (the built
// dist/ cron module, so the zone is the process's own, as in the agent). The rule (SPEC section 17):
// each local wall-clock time fires at most once; a slot in the hour skipped when DST starts runs at
// the same minute of the next hour; in the hour repeated when DST ends, slots fire in its first pass.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';
import { ROOT } from '../helpers/cli.js';

async function firesInBerlin(expr: string, fromIso: string, count: number): Promise<string[]> {
  const mod = join(ROOT, 'dist', 'agent', 'src', 'scheduler', 'cron.js');
  const script = `
    const { parseCron, nextFire } = await import(${JSON.stringify(mod)});
    const c = parseCron(${JSON.stringify(expr)});
    let t = new Date(${JSON.stringify(fromIso)}).getTime();
    const out = [];
    for (let i = 0; i < ${count}; i++) { t = nextFire(c, t); out.push(new Date(t).toISOString()); }
    process.stdout.write(JSON.stringify({ zone: Intl.DateTimeFormat().resolvedOptions().timeZone, out }));
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, TZ: 'Europe/Berlin' } });
  const r = JSON.parse(stdout) as { zone: string; out: string[] };
  expect(r.zone).toBe('Europe/Berlin');
  return r.out;
}

test('daily 02:30 when DST starts (2026-03-29, 02:00 -> 03:00): runs at 03:30 that day, once', async () => {
  expect(await firesInBerlin('30 2 * * *', '2026-03-27T12:00:00Z', 3)).toEqual([
    '2026-03-28T01:30:00.000Z',
    '2026-03-29T01:30:00.000Z',
    '2026-03-30T00:30:00.000Z',
  ]);
});

test('daily 02:30 when DST ends (2026-10-25, 03:00 -> 02:00): once, in the first pass', async () => {
  expect(await firesInBerlin('30 2 * * *', '2026-10-23T12:00:00Z', 3)).toEqual([
    '2026-10-24T00:30:00.000Z',
    '2026-10-25T00:30:00.000Z',
    '2026-10-26T01:30:00.000Z',
  ]);
});

test('hourly across both changes: no slot twice, none lost when DST starts', async () => {
  // 01:00 CET, then 02:00 (skipped) runs as 03:00 CEST together with 03:00, then 04:00 CEST
  expect(await firesInBerlin('0 * * * *', '2026-03-28T23:30:00Z', 3)).toEqual([
    '2026-03-29T00:00:00.000Z',
    '2026-03-29T01:00:00.000Z',
    '2026-03-29T02:00:00.000Z',
  ]);
  // 01:00 CEST, 02:00 CEST, (02:00 CET again: not repeated), 03:00 CET
  expect(await firesInBerlin('0 * * * *', '2026-10-24T22:30:00Z', 3)).toEqual([
    '2026-10-24T23:00:00.000Z',
    '2026-10-25T00:00:00.000Z',
    '2026-10-25T02:00:00.000Z',
  ]);
});
