// Names and symlink targets are bytes: the in-memory mapping (util/byte-names.ts), the tree format
// (version 2 with nameBytes/targetBytes, version 1 still read), and a real backup and restore of a
// tree whose names and targets are not valid UTF-8, compared byte for byte.
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { backupOp } from '../../src/ops/backup.js';
import { lsOp } from '../../src/ops/browse.js';
import { restoreOp } from '../../src/ops/restore.js';
import type { Services } from '../../src/ops/services.js';
import { BlobType } from '../../src/repo/blob.js';
import type { Stores } from '../../src/compose-root.js';
import { initStores } from '../helpers/stores.js';
import { encodeTree, loadTree, saveTree } from '../../src/repo/trees.js';
import { displayName, fromBytes, hasEscapes, toBytes } from '../../src/util/byte-names.js';
import { systemClock } from '../../src/util/clock.js';
import type { TreeNode } from '../../../protocol/snapshot.js';

const B = (...b: number[]) => Buffer.from(b);
const NASTY = [
  B(0x66, 0xff, 0xfe), // invalid bytes
  Buffer.from('caf\u00e9', 'latin1'), // Latin-1
  B(0x61, 0x80, 0x62), // a stray continuation byte
  B(0xed, 0xa0, 0x80), // an encoded surrogate (invalid in UTF-8)
  B(0xc0, 0xaf), // an overlong "/"
  B(0xf4, 0x90, 0x80, 0x80), // above U+10FFFF
  B(0xe6, 0x97), // a truncated 3-byte sequence
];

describe('byte names in memory', () => {
  test('every byte string maps to a string and back exactly; valid UTF-8 is its ordinary string', () => {
    for (const b of NASTY) {
      const s = fromBytes(b);
      expect(hasEscapes(s)).toBe(true);
      expect(toBytes(s).equals(b)).toBe(true);
    }
    for (const s of ['plain', 'caf\u00e9', '\u{1f980} crab', '\u65e5\u672c', 'a\\xffb']) {
      expect(fromBytes(Buffer.from(s))).toBe(s);
      expect(hasEscapes(s)).toBe(false);
      expect(toBytes(s).equals(Buffer.from(s))).toBe(true);
    }
    // all 2-byte strings: a bijection
    for (let a = 0; a < 256; a++) {
      for (let c = 0; c < 256; c++) {
        const b = B(a, c);
        expect(toBytes(fromBytes(b)).equals(b)).toBe(true);
      }
    }
  });

  test('shown escaped: \\xNN for bytes and control characters, backslash doubled', () => {
    expect(displayName(fromBytes(B(0x66, 0xff, 0xfe)))).toBe('f\\xff\\xfe');
    expect(displayName('line\nbreak')).toBe('line\\x0abreak');
    expect(displayName('a\\xffb')).toBe('a\\\\xffb');
    expect(displayName('caf\u00e9')).toBe('caf\u00e9');
  });
});

describe('tree format with byte names', () => {
  const dirs: string[] = [];
  const repos: Stores[] = [];
  afterAll(async () => {
    for (const r of repos) await r.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  async function newRepo() {
    const work = await mkdtemp(join(tmpdir(), 'cairn-bytes-'));
    dirs.push(work);
    const stores = await initStores(join(work, 'home'), 'pw', new Date('2026-01-01T00:00:00Z'));
    repos.push(stores);
    return { work, repo: stores.repo, ledgers: stores.ledgers };
  }
  const node = (name: string, extra: Partial<TreeNode> = {}): TreeNode => ({
    name,
    type: 'file',
    mode: 0o644,
    uid: 0,
    gid: 0,
    mtimeNs: '0',
    inode: '1',
    dev: '1',
    nlink: 1,
    size: 0,
    content: [],
    ...extra,
  });

  test('a tree of UTF-8 names is written as version 1, the same bytes as before; byte names make version 2', () => {
    const plain = encodeTree([node('a'), node('b', { type: 'symlink', target: 'x' })]);
    expect(JSON.parse(plain.toString()).version).toBe(1);
    expect(plain.toString()).not.toContain('Bytes');
    const bytes = JSON.parse(encodeTree([node(fromBytes(B(0x66, 0xff))), node('l', { type: 'symlink', target: fromBytes(B(0x2e, 0xfe)) })]).toString());
    expect(bytes.version).toBe(2);
    expect(bytes.nodes[0]).not.toHaveProperty('name');
    expect(bytes.nodes[0].nameBytes).toBe(B(0x66, 0xff).toString('base64'));
    expect(bytes.nodes[1].name).toBe('l');
    expect(bytes.nodes[1].targetBytes).toBe(B(0x2e, 0xfe).toString('base64'));
  });

  test('version 2 round trip; an old version 1 tree still reads; malformed byte fields are refused', async () => {
    const { repo } = await newRepo();
    const names = NASTY.map(fromBytes);
    const { id } = await saveTree(repo, [...names.map((n) => node(n)), node('link', { type: 'symlink', target: fromBytes(B(0xff, 0x2f, 0x61)) })]);
    await repo.flush();
    const back = await loadTree(repo, id);
    expect(back.nodes.map((n) => n.name).sort()).toEqual([...names, 'link'].sort());
    expect(toBytes(back.nodes.find((n) => n.name === 'link')?.target as string).equals(B(0xff, 0x2f, 0x61))).toBe(true);

    // a version 1 tree, as an agent before version 2 wrote it (fixture bytes)
    const v1 =
      '{"version":1,"nodes":[{"name":"caf\u00e9","type":"file","mode":420,"uid":0,"gid":0,"mtimeNs":"1","inode":"2","dev":"3","nlink":1,"size":0,"content":[]},{"name":"l","type":"symlink","mode":511,"uid":0,"gid":0,"mtimeNs":"1","inode":"4","dev":"3","nlink":1,"size":0,"target":"../x"}]}';
    const old = await repo.saveBlob(BlobType.tree, Buffer.from(v1));
    await repo.flush();
    const oldTree = await loadTree(repo, old.id);
    expect(oldTree.nodes.map((n) => [n.name, n.target])).toEqual([
      ['caf\u00e9', undefined],
      ['l', '../x'],
    ]);

    const bad = async (nodes: unknown[], version = 2) => {
      const { id: bid } = await repo.saveBlob(BlobType.tree, Buffer.from(JSON.stringify({ version, nodes })));
      await repo.flush();
      return loadTree(repo, bid);
    };
    const base = { type: 'file', mode: 420, uid: 0, gid: 0, mtimeNs: '0', inode: '1', dev: '1', nlink: 1, size: 0 };
    await expect(bad([{ ...base, nameBytes: B(0x2f, 0xff).toString('base64') }])).rejects.toThrow(/unsafe name/); // a "/"
    await expect(bad([{ ...base, nameBytes: Buffer.from('ok').toString('base64') }])).rejects.toThrow(/nameBytes/); // valid UTF-8: must be `name`
    await expect(bad([{ ...base, name: 'x', nameBytes: B(0xff).toString('base64') }])).rejects.toThrow(/both/);
    await expect(bad([{ ...base, nameBytes: '!!!' }])).rejects.toThrow(/nameBytes/);
    await expect(bad([{ ...base, nameBytes: B(0xff).toString('base64') }], 1)).rejects.toThrow(/name/); // no byte fields in version 1
    await expect(bad([{ ...base, name: '\udcff' }])).rejects.toThrow(/UTF-8/); // a lone surrogate in a JSON name
    await expect(bad([{ ...base, name: 'a', type: 'symlink', targetBytes: Buffer.from('ok').toString('base64') }])).rejects.toThrow(/targetBytes/);
    await expect(bad([{ ...base, name: 'a' }], 3)).rejects.toThrow(/unknown version/);
  });

  test('backup and restore keep names and symlink targets byte for byte; nothing is skipped, exit status clean', async () => {
    const { work, repo, ledgers } = await newRepo();
    const svc: Services = { home: join(work, 'home'), repo, ledgers, clock: systemClock };
    const src = join(work, 'src');
    mkdirSync(src);
    const srcB = Buffer.from(src);
    const p = (...parts: Buffer[]) => Buffer.concat([srcB, ...parts.flatMap((x) => [B(0x2f), x])]);
    for (const [i, n] of NASTY.entries()) writeFileSync(p(n), `file ${i}`);
    mkdirSync(p(Buffer.from('dir-\u00e4', 'latin1')));
    writeFileSync(p(Buffer.from('dir-\u00e4', 'latin1'), B(0xfe, 0xff)), 'inside');
    symlinkSync(B(0x2e, 0x2e, 0x2f, 0xff, 0x41), p(Buffer.from('link')));
    symlinkSync(B(0xfe), p(B(0x6c, 0xff)));

    const r = await backupOp(svc, { paths: [src], tags: [] });
    expect(r.warnings).toEqual([]);
    expect(r.unreadable).toBe(0);
    expect(r.files).toBe(NASTY.length + 1);
    const ls = await lsOp(svc, { snapshot: r.id });
    expect(ls.some((e) => e.path.endsWith('/f\udcff\udcfe'))).toBe(true);

    const target = join(work, 'target');
    const res = await restoreOp(svc, { snapshot: r.id, target, include: [], overwrite: false, from: relative('/', src) });
    expect({ errors: res.errors, warnings: res.warnings }).toEqual({ errors: [], warnings: [] });
    const list = (dir: Buffer): string[] =>
      readdirSync(dir, { encoding: 'buffer' })
        .flatMap((n) => {
          const full = Buffer.concat([dir, B(0x2f), n]);
          const st = lstatSync(full);
          const here = `${n.toString('hex')}:${st.isSymbolicLink() ? `->${readlinkSync(full, { encoding: 'buffer' }).toString('hex')}` : st.isFile() ? readFileSync(full).toString('hex') : 'dir'}`;
          return st.isDirectory() ? [here, ...list(full).map((x) => `${n.toString('hex')}/${x}`)] : [here];
        })
        .sort();
    expect(list(Buffer.from(target))).toEqual(list(srcB));
    expect(list(srcB).length).toBe(NASTY.length + 4);
  });
});
