import { describe, expect, test } from 'vitest';
import { parseSnapshotBlob } from '../../src/repo/snapshot-blob.js';

const ID = 'a'.repeat(64);
const good = { version: 1, time: '2026-12-04T00:00:00.000Z', hostname: 'nas', paths: ['/srv'], tags: [], tree: 'b'.repeat(64), summary: {} };

describe('snapshot blobs as read (SPEC 7: unknown fields and versions)', () => {
  test('a version-1 snapshot reads, and a field this agent does not know is kept', () => {
    const s = parseSnapshotBlob(ID, JSON.stringify({ ...good, futureField: { x: 1 } }));
    expect(s.tree).toBe(good.tree);
    expect((s as unknown as Record<string, unknown>).futureField).toEqual({ x: 1 });
  });

  test('another version, a missing or malformed tree, or a bad parent is refused with a line naming it', () => {
    expect(() => parseSnapshotBlob(ID, JSON.stringify({ ...good, version: 2 }))).toThrow(/has version 2; this agent reads version 1/);
    expect(() => parseSnapshotBlob(ID, JSON.stringify({ ...good, version: undefined }))).toThrow(/has version undefined/);
    expect(() => parseSnapshotBlob(ID, JSON.stringify({ ...good, tree: 'xyz' }))).toThrow(/no valid root tree ID/);
    expect(() => parseSnapshotBlob(ID, JSON.stringify({ ...good, parent: null }))).toThrow(/parent that is not a snapshot ID/);
    expect(() => parseSnapshotBlob(ID, JSON.stringify({ ...good, paths: 'x' }))).toThrow(/lacks its time, paths or tags/);
    expect(() => parseSnapshotBlob(ID, '[1,')).toThrow(/not valid JSON/);
    expect(() => parseSnapshotBlob(ID, 'null')).toThrow(/not a JSON object/);
  });
});
