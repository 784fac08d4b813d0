// The flat blob table against a Map doing the same random work: adds, replacements, removals
// (backward shift across the table's wrap-around), growth, lookups of IDs never added, and
// iteration while the table changes.
import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { prng as rng } from '../../../bench/adversarial/prng.js';
import { BlobTable } from '../../src/repo/blob-table.js';
import type { IndexEntry as TableEntry } from '../../src/repo/index.js';

const idOf = (n: number) => createHash('sha256').update(`blob ${n}`).digest('hex');
/** IDs whose first 32 bits are equal: they all want the same slot, so runs form and wrap. */
const collidingId = (n: number) => `ffffffff${createHash('sha256').update(`c ${n}`).digest('hex').slice(8)}`;

function entryFor(r: () => number, packs: number): TableEntry {
  return {
    packId: createHash('sha256')
      .update(`pack ${Math.floor(r() * packs)}`)
      .digest('hex'),
    offset: Math.floor(r() * 0xffff_ffff),
    sealedLength: Math.floor(r() * 20_000_000),
    rawLength: Math.floor(r() * 20_000_000),
    type: Math.floor(r() * 3) as TableEntry['type'],
    flags: Math.floor(r() * 2),
  };
}

function sameAsModel(t: BlobTable, model: Map<string, TableEntry>): void {
  expect(t.size).toBe(model.size);
  const listed = new Map(t.entries());
  expect(listed.size).toBe(model.size);
  for (const [id, e] of model) {
    expect(t.has(id)).toBe(true);
    expect(t.get(id)).toEqual(e);
    expect(listed.get(id)).toEqual(e);
  }
}

describe('blob table', () => {
  test('random adds, replacements and removals agree with a Map, colliding IDs included', () => {
    const r = rng(20261205);
    const t = new BlobTable();
    const model = new Map<string, TableEntry>();
    const ids = [...Array.from({ length: 3000 }, (_, i) => idOf(i)), ...Array.from({ length: 300 }, (_, i) => collidingId(i))];
    for (let step = 0; step < 40_000; step++) {
      const id = ids[Math.floor(r() * ids.length)] as string;
      if (r() < 0.35) {
        expect(t.delete(id)).toBe(model.delete(id));
      } else {
        const e = entryFor(r, 50);
        t.set(id, e);
        model.set(id, e);
      }
      if (step % 5000 === 0) sameAsModel(t, model);
    }
    sameAsModel(t, model);
    for (let i = 0; i < 2000; i++) {
      expect(t.has(idOf(1_000_000 + i))).toBe(false);
      expect(t.get(collidingId(10_000 + i))).toBeUndefined();
    }
    // emptied completely, then reused
    for (const id of [...model.keys()]) expect(t.delete(id)).toBe(true);
    expect(t.size).toBe(0);
    expect([...t.entries()]).toEqual([]);
    t.set(idOf(1), entryFor(r, 1));
    expect(t.size).toBe(1);
  });

  test('one long run that wraps around the end of the table: removals anywhere in it keep every other entry found', () => {
    const r = rng(11);
    const t = new BlobTable(); // 1,024 slots until 820 entries: colliding IDs all start at the last slot
    const model = new Map<string, TableEntry>();
    for (let i = 0; i < 700; i++) {
      const e = entryFor(r, 5);
      t.set(collidingId(i), e);
      model.set(collidingId(i), e);
    }
    for (let i = 0; i < 700; i += 1 + Math.floor(r() * 3)) {
      expect(t.delete(collidingId(i))).toBe(true);
      model.delete(collidingId(i));
      if (i % 50 === 0) sameAsModel(t, model);
    }
    sameAsModel(t, model);
  });

  test('iteration sees the table as it was when it started, whatever changes meanwhile', () => {
    const r = rng(7);
    const t = new BlobTable();
    for (let i = 0; i < 5000; i++) t.set(idOf(i), entryFor(r, 10));
    const seen: string[] = [];
    let n = 0;
    for (const [id] of t.entries()) {
      seen.push(id);
      if (n++ % 3 === 0) t.delete(idOf(n)); // removals shift entries back
      t.set(idOf(100_000 + n), entryFor(r, 10)); // additions grow the table
    }
    expect(seen.length).toBe(5000);
    expect(new Set(seen)).toEqual(new Set(Array.from({ length: 5000 }, (_, i) => idOf(i))));
  });

  test('what is not an ID or does not fit is refused, never stored wrong', () => {
    const t = new BlobTable();
    const e = entryFor(rng(1), 1);
    expect(t.has('zz')).toBe(false);
    expect(t.has(idOf(1).toUpperCase())).toBe(false);
    expect(() => t.set('abc', e)).toThrow(/not 64 lowercase hex/);
    expect(() => t.set(`${idOf(1).slice(0, 63)}g`, e)).toThrow(/not 64 lowercase hex/);
    expect(() => t.set(idOf(1), { ...e, offset: 2 ** 32 })).toThrow(/offset .* out of range/);
    expect(() => t.set(idOf(1), { ...e, rawLength: -1 })).toThrow(/raw length .* out of range/);
    expect(() => t.set(idOf(1), { ...e, flags: 256 })).toThrow(/flags .* out of range/);
    expect(t.size).toBe(0);
  });

  test('a blob costs under 100 bytes (the Map of objects it replaces cost about 366)', () => {
    const r = rng(3);
    const t = new BlobTable();
    const blobs = 200_000;
    for (let i = 0; i < blobs; i++) t.set(idOf(i), entryFor(r, blobs / 40));
    expect(t.bytes / blobs).toBeLessThan(100);
  });
});
