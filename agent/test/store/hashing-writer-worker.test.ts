// HashingWriter from dist/, as the agent runs it: hashing and writing on the worker thread.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type * as HashingWriterModule from '../../src/store/hashing-writer.js';
import { hashingWriterSuite } from '../helpers/hashing-writer-suite.js';

const compiled: string = new URL('../../../dist/agent/src/store/hashing-writer.js', import.meta.url).href;
hashingWriterSuite('worker thread (dist)', true, async () => (await import(compiled)) as typeof HashingWriterModule);

describe('the hashing worker and the process', () => {
  it('a file in flight keeps the process alive until its digest is back; idle, the worker lets it exit', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-hashing-exit-'));
    const path = join(dir, 'f');
    // nothing but the worker is pending while finish() waits; after it, nothing at all
    const script = `const { HashingWriter } = await import(${JSON.stringify(compiled)});
      const w = await HashingWriter.create(${JSON.stringify(path)});
      await w.write([Buffer.alloc(3000, 7)], 3000);
      console.log(w.onWorker, await w.finish());`;
    await writeFile(join(dir, 'run.mjs'), script);
    const r = spawnSync(process.execPath, [join(dir, 'run.mjs')], { encoding: 'utf8', timeout: 60_000 });
    expect(r.signal, 'the process had to be killed: the idle worker kept it alive').toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`true ${createHash('sha256').update(Buffer.alloc(3000, 7)).digest('hex')}`);
  });

  it('a worker started ahead (as the agent does) lets the process exit while idle, and takes files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-hashing-start-'));
    const path = join(dir, 'f');
    const script = `const { HashingWriter, startHashingThread } = await import(${JSON.stringify(compiled)});
      startHashingThread();
      await new Promise((r) => setTimeout(r, 300));
      const w = await HashingWriter.create(${JSON.stringify(path)});
      await w.write([Buffer.alloc(5000, 9)], 5000);
      console.log(w.onWorker, await w.finish());
      startHashingThread();`;
    await writeFile(join(dir, 'run.mjs'), script);
    const r = spawnSync(process.execPath, [join(dir, 'run.mjs')], { encoding: 'utf8', timeout: 60_000 });
    expect(r.signal, 'the process had to be killed: the worker started ahead kept it alive').toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`true ${createHash('sha256').update(Buffer.alloc(5000, 9)).digest('hex')}`);
  });
});
