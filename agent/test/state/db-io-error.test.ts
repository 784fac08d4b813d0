// LevelDB refuses every write after one failed sync of its log; the state database reopens itself
// after such an I/O error, so the same process writes again once the disk works (state/db.ts).
// A real LevelDB in a child process whose fsync/fdatasync fail with EIO (libfiu) while we say so.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { describeFiu, fiuEnv } from '../helpers/fiu.js';

const DB = new URL('../../../dist/agent/src/state/db.js', import.meta.url).href;

/** The child: opens the state database, writes, has its syncs fail (EIO), writes twice, has them work again, writes, and prints what happened. */
const CHILD = `
import { execFileSync } from 'node:child_process';
const { openStateDb } = await import(process.argv[1]);
const [dir] = process.argv.slice(2);
// fiu-ctrl itself must not run under the preload library it inherits
const { LD_PRELOAD, ...plainEnv } = process.env;
const ctl = (c) => execFileSync('fiu-ctrl', ['-f', '/tmp/fiu-ctrl', '-c', c, String(process.pid)], { env: plainEnv });
const points = ['posix/io/sync/fsync', 'posix/io/sync/fdatasync'];
const { db, sub } = await openStateDb(dir);
const out = {};
const attempt = async (key) => { try { await sub.meta.put(key, 'v', { sync: true }); return 'ok'; } catch (e) { return String(e.cause?.message ?? e.message).split('\\n')[0]; } };
out.before = await attempt('before');
for (const p of points) ctl('enable name=' + p + ',failinfo=5');
out.during = await attempt('during');
out.stillFailing = await attempt('still');
for (const p of points) ctl('disable name=' + p);
// reads work all along (the database was not closed while the disk failed)
try { out.keys = []; for await (const k of sub.meta.keys()) out.keys.push(k); } catch (e) { out.keys = String(e.message); }
out.after = await attempt('after');
out.read = await sub.meta.get('before');
await db.close();
process.stdout.write(JSON.stringify(out));
`;

describeFiu('the state database after an fsync EIO', () => {
  let dir = '';
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the failed write fails with the I/O error; once the disk works, the same process writes again', async () => {
    dir = await mkdtemp(join(tmpdir(), 'cairn-db-eio-'));
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, DB, join(dir, 'state')], {
      env: { ...process.env, ...fiuEnv() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code, stderr).toBe(0);
    const out = JSON.parse(stdout) as Record<string, string>;
    expect(out.before).toBe('ok');
    expect(out.during).toMatch(/Input\/output error/);
    // while the disk fails, the next write fails with what the disk says, and the database stays open for reads
    expect(out.stillFailing).toMatch(/EIO|Input\/output error/);
    // without the reopen, LevelDB answers every later write with the same I/O error
    expect(out.keys).toContain('before');
    expect(out.after).toBe('ok');
    expect(out.read).toBe('v');
  }, 60_000);
});
