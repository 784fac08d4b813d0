// One suite, run against every PackStore implementation.
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalPackStore } from '../../src/store/local-pack-store.js';
import { MemoryPackStore } from '../../src/store/memory-pack-store.js';
import { PackMissingError, PackTruncatedError, type PackStore } from '../../src/store/pack-store.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Local stores made by a test, closed after it (their cached pack handles with them). */
const opened: LocalPackStore[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});

async function makeLocal(): Promise<LocalPackStore> {
  const s = new LocalPackStore(join(await mkdtemp(join(tmpdir(), 'cairn-store-')), 'packs'));
  await s.open();
  opened.push(s);
  return s;
}

const impls: Array<[string, () => Promise<PackStore>]> = [
  ['memory', async () => new MemoryPackStore()],
  ['local', makeLocal],
];

describe.each(impls)('PackStore: %s', (_name, make) => {
  const a = Buffer.from('pack a bytes');
  const b = Buffer.alloc(100_000, 3);

  it('puts, gets, ranges, stats, lists and deletes', async () => {
    const s = await make();
    await s.put(sha(a), [a.subarray(0, 4), a.subarray(4)]);
    await s.put(sha(b), [b]);
    expect(await s.get(sha(a))).toEqual(a);
    expect(await s.getRange(sha(b), 10, 5)).toEqual(b.subarray(10, 15));
    expect(await s.stat(sha(b))).toEqual({ id: sha(b), sizeBytes: b.length });
    const listed = [];
    for await (const p of s.list()) listed.push(p.id);
    expect(listed.sort()).toEqual([sha(a), sha(b)].sort());
    await s.delete(sha(a));
    expect(await s.stat(sha(a))).toBeUndefined();
  });

  it('names missing and truncated packs in typed errors', async () => {
    const s = await make();
    await s.put(sha(a), [a]);
    await expect(s.get('00'.repeat(32))).rejects.toBeInstanceOf(PackMissingError);
    await expect(s.getRange('00'.repeat(32), 0, 1)).rejects.toThrow(/pack 0{64} is missing/);
    await expect(s.getRange(sha(a), 5, 100)).rejects.toBeInstanceOf(PackTruncatedError);
  });
});

describe('LocalPackStore.readInto', () => {
  it('fills the target with the bytes at the offset, and names missing and truncated packs', async () => {
    const s = await makeLocal();
    const b = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) & 0xff));
    await s.put(sha(b), [b]);
    const target = Buffer.alloc(65_536, 0xee);
    await s.readInto(sha(b), 123_457, target);
    expect(target).toEqual(b.subarray(123_457, 123_457 + 65_536));
    await s.readInto(sha(b), 0, target.subarray(0, 10)); // a view: only its own bytes change
    expect(target.subarray(0, 10)).toEqual(b.subarray(0, 10));
    expect(target.subarray(10, 20)).toEqual(b.subarray(123_467, 123_477));
    await expect(s.readInto(sha(b), b.length - 5, Buffer.alloc(6))).rejects.toBeInstanceOf(PackTruncatedError);
    await expect(s.readInto('00'.repeat(32), 0, Buffer.alloc(1))).rejects.toBeInstanceOf(PackMissingError);
  });
});

describe('LocalPackStore crash leftovers', () => {
  it('removes temp files left by a crash when it opens', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'cairn-store-')), 'packs');
    const s = new LocalPackStore(dir);
    await s.open();
    await s.put('ab'.repeat(32), [Buffer.from('x')]);
    await writeFile(join(dir, 'ab', '.tmp-abab-123'), 'half a pack');
    await new LocalPackStore(dir).open();
    expect(await readdir(join(dir, 'ab'))).toEqual(['ab'.repeat(32)]);
  });
});
