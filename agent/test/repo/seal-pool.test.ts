// The compress + seal workers (compiled dist/, as the agent runs them): results equal the inline
// path, a job in flight keeps the process alive, and idle workers let it exit even when nobody
// called close() (a command that failed halfway must still end).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const compiled: string = new URL('../../../dist/agent/src/repo/seal-pool.js', import.meta.url).href;

describe('SealPool workers and the process', () => {
  it('a job in flight keeps the process alive; idle workers let it exit without close()', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-seal-exit-'));
    // 256 KiB: above the size done inline, so it goes to a worker; nothing else is pending while
    // the job runs, and after it nothing at all
    const script = `const { SealPool } = await import(${JSON.stringify(compiled)});
      const pool = new SealPool(1);
      const data = Buffer.from(${JSON.stringify(randomBytes(256 * 1024).toString('base64'))}, 'base64');
      pool.run(0, 'a'.repeat(64), data, Buffer.alloc(32, 1)).then((r) => console.log('sealed', r.sealed.length > data.length));`;
    await writeFile(join(dir, 'run.mjs'), script);
    const r = spawnSync(process.execPath, [join(dir, 'run.mjs')], { encoding: 'utf8', timeout: 30_000 });
    expect(r.signal, 'the process had to be killed: an idle seal worker kept it alive').toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim(), 'the job in flight did not keep the process alive until its result').toBe('sealed true');
  });
});

describe('SealPool after a worker dies', () => {
  it('fails only the job the dead worker had; the next jobs are sealed by a new worker', async () => {
    const { SealPool } = (await import(compiled)) as typeof import('../../src/repo/seal-pool.js');
    const pool = new SealPool(1);
    try {
      const data = () => randomBytes(256 * 1024); // above the inline size: goes to the worker
      // a key of the wrong length makes the worker throw outside any try: the thread dies
      await expect(pool.run(0, 'a'.repeat(64), data(), Buffer.alloc(3))).rejects.toThrow();
      for (let i = 0; i < 3; i++) {
        const r = await Promise.race([
          pool.run(0, 'b'.repeat(64), data(), Buffer.alloc(32, 1)),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error('job never answered: the pool kept its dead worker')), 10_000)),
        ]);
        expect(r.sealed.length).toBeGreaterThan(256 * 1024);
      }
    } finally {
      await pool.close();
    }
  });
});
