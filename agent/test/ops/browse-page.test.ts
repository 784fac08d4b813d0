// The console's browser at scale, below the browser (issue 21 item 2): one folder of a real
// snapshot a page at a time (never more than BROWSE_PAGE_MAX_ENTRIES entries, whatever is asked),
// hostile paths that stay inside the snapshot's trees, and the download route (GET
// /api/v1/dump) naming the file for the browser without letting a hostile name into the header,
// names that are not UTF-8 included (given by their bytes, pathHex).
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { PassThrough } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { API_PREFIX, API_TOKEN_HEADER, BROWSE_PAGE_DEFAULT_ENTRIES, BROWSE_PAGE_MAX_ENTRIES, type BrowseResult } from '../../../protocol/api.js';
import { ConsoleAuth } from '../../src/api/auth.js';
import { buildApi } from '../../src/api/server.js';
import { backupOp } from '../../src/ops/backup.js';
import { browseOp } from '../../src/ops/browse.js';
import { dumpPlan, exportPlan } from '../../src/ops/export.js';
import type { Services } from '../../src/ops/services.js';
import type { Stores } from '../../src/compose-root.js';
import type { Repository } from '../../src/repo/repository.js';
import { initStores } from '../helpers/stores.js';
import { systemClock } from '../../src/util/clock.js';
import { fromBytes } from '../../src/util/byte-names.js';
import { pathHex } from '../../../protocol/path-hex.js';

const TOKEN = 'browse-page-test-token-0123456789abcdef';
const MANY = 2345;
const HOSTILE = 'a"b\r\nx-evil: 1;c.txt';
/** Names that are not valid UTF-8: a Latin-1 "café.bin", a folder with two stray bytes, a file in it. */
const RAW_FILE = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2e, 0x62, 0x69, 0x6e]);
const RAW_DIR = Buffer.from([0x64, 0x69, 0x72, 0x2d, 0xfe, 0xff]);
const RAW_INNER = Buffer.from([0x69, 0x6e, 0x2d, 0x80, 0x2e, 0x74, 0x78, 0x74]);

describe('browse one folder a page at a time; downloads', () => {
  let repo: Repository;
  let stores: Stores | undefined;
  let svc: Services;
  let app: FastifyInstance;
  let data: string;
  let snap: string;
  const inner = randomBytes(300_000);
  const rawFileBody = randomBytes(70_000);
  const rawInnerBody = Buffer.from('inside a folder whose name is not UTF-8\n');

  beforeAll(async () => {
    const work = await mkdtemp(join(tmpdir(), 'cairn-browse-page-'));
    data = join(work, 'data');
    await mkdir(join(data, 'many'), { recursive: true });
    await mkdir(join(data, 'sub', 'empty'), { recursive: true });
    for (let i = 0; i < MANY; i++) await writeFile(join(data, 'many', `f${String(i).padStart(5, '0')}.txt`), String(i));
    await writeFile(join(data, 'sub', HOSTILE), 'hostile');
    await writeFile(join(data, 'sub', 'inner.bin'), inner);
    // names that are not UTF-8, stored byte for byte (SPEC 6)
    await mkdir(join(data, 'bytes'));
    await writeFile(Buffer.concat([Buffer.from(`${data}/bytes/`), RAW_FILE]), rawFileBody);
    await mkdir(Buffer.concat([Buffer.from(`${data}/bytes/`), RAW_DIR]));
    await writeFile(Buffer.concat([Buffer.from(`${data}/bytes/`), RAW_DIR, Buffer.from('/'), RAW_INNER]), rawInnerBody);
    stores = await initStores(join(work, 'home'), 'browse page test passphrase', new Date());
    repo = stores.repo;
    svc = { home: join(work, 'home'), repo, ledgers: stores.ledgers, clock: systemClock };
    snap = (await backupOp(svc, { paths: [data], tags: [] })).id;
    const auth = await ConsoleAuth.open(svc.home, systemClock, TOKEN, () => undefined);
    app = buildApi(svc, { host: '127.0.0.1', port: 0, auth, consoleDir: join(work, 'no-console') }, () => 'peer');
    await app.ready();
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    await stores?.close();
  });

  const post = (name: string, body: unknown) =>
    app.inject({
      method: 'POST',
      url: `${API_PREFIX}/ops/${name}`,
      headers: { host: '127.0.0.1', [API_TOKEN_HEADER]: TOKEN, 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    });
  const get = (url: string) => app.inject({ method: 'GET', url, headers: { host: '127.0.0.1', [API_TOKEN_HEADER]: TOKEN } });

  test('a folder of 2,345 entries: pages of the default size, every entry once and in order, the count right', async () => {
    const first = await browseOp(svc, { snapshot: snap, path: `${data}/many` });
    expect(first.total).toBe(MANY);
    expect(first.entries).toHaveLength(BROWSE_PAGE_DEFAULT_ENTRIES);
    expect(first.path).toBe(`${data}/many`);
    expect(first.snapshot.id).toBe(snap);
    const names: string[] = [];
    for (let offset = 0; offset < MANY; offset += BROWSE_PAGE_MAX_ENTRIES) {
      const page = await browseOp(svc, { snapshot: snap, path: `${data}/many/`, offset, limit: BROWSE_PAGE_MAX_ENTRIES });
      expect(page.offset).toBe(offset);
      names.push(...page.entries.map((e) => e.path.slice(`${data}/many/`.length)));
    }
    expect(names).toEqual(Array.from({ length: MANY }, (_, i) => `f${String(i).padStart(5, '0')}.txt`));
    // only the folder's own entries: the root is the first name of the data path
    const root = await browseOp(svc, { snapshot: snap.slice(0, 8) });
    expect(root.path).toBe('/');
    expect(root.entries.map((e) => e.path)).toEqual([`/${data.split('/')[1]}`]);
    const sub = await browseOp(svc, { snapshot: snap, path: `${data}/sub` });
    expect(sub.entries.map((e) => [e.path.slice(data.length + 5), e.type])).toEqual([
      [HOSTILE, 'file'],
      ['empty', 'dir'],
      ['inner.bin', 'file'],
    ]);
    const empty = await browseOp(svc, { snapshot: snap, path: `${data}/sub/empty` });
    expect([empty.total, empty.entries.length]).toEqual([0, 0]);
  });

  test('no page holds more than BROWSE_PAGE_MAX_ENTRIES: the operation bounds it, the API refuses to be asked', async () => {
    const big = await browseOp(svc, { snapshot: snap, path: `${data}/many`, limit: 100_000 });
    expect(big.entries).toHaveLength(BROWSE_PAGE_MAX_ENTRIES);
    const refused = await post('browse', { snapshot: snap, path: `${data}/many`, limit: BROWSE_PAGE_MAX_ENTRIES + 1 });
    expect(refused.statusCode).toBe(400);
    const ok = await post('browse', { snapshot: snap, path: `${data}/many`, offset: MANY - 5, limit: BROWSE_PAGE_MAX_ENTRIES });
    expect(ok.statusCode).toBe(200);
    const page = ok.json<BrowseResult>();
    expect([page.total, page.entries.length, page.entries[0]?.path]).toEqual([MANY, 5, `${data}/many/f02340.txt`]);
  });

  test('hostile paths stay inside the snapshot: ".." refused, outside names not found, a file is not a folder', async () => {
    for (const path of ['..', '../../etc', `${data}/../../../etc`, `${data}/many/../../..`, '/./..']) {
      const r = await post('browse', { snapshot: snap, path });
      expect(r.statusCode, path).toBe(400);
      expect(r.json<{ message: string }>().message, path).toMatch(/must not contain "\.\."/);
    }
    for (const path of ['/etc', '/etc/passwd', `${data}/nope`, `${data}/sub/inner.bin/x`]) {
      const r = await post('browse', { snapshot: snap, path });
      expect(r.json<{ code: string }>().code, path).toBe('E_NOT_FOUND');
    }
    const file = await post('browse', { snapshot: snap, path: `${data}/sub/inner.bin` });
    expect(file.statusCode).toBe(400);
    expect(file.json<{ message: string }>().message).toMatch(/inner\.bin is a file in snapshot .*, not a folder/);
    const dump = await get(`${API_PREFIX}/dump?${new URLSearchParams({ snapshot: snap, path: '/../../etc/passwd' }).toString()}`);
    expect(dump.statusCode).toBe(400);
  });

  test('a file downloads as it is, named; a folder as a tar, named; a hostile name never reaches the header raw', async () => {
    const file = await get(`${API_PREFIX}/dump?${new URLSearchParams({ snapshot: snap, path: `${data}/sub/inner.bin` }).toString()}`);
    expect(file.statusCode).toBe(200);
    expect(Buffer.compare(file.rawPayload, inner)).toBe(0);
    expect(file.headers['content-disposition']).toBe(`attachment; filename="inner.bin"; filename*=UTF-8''inner.bin`);
    expect(file.headers['content-length']).toBe(String(inner.length));
    expect(file.headers['content-type']).toBe('application/octet-stream');
    expect(file.headers['x-content-type-options']).toBe('nosniff'); // never rendered in the console's origin

    const hostile = await get(`${API_PREFIX}/dump?${new URLSearchParams({ snapshot: snap, path: `${data}/sub/${HOSTILE}` }).toString()}`);
    expect(hostile.statusCode).toBe(200);
    expect(hostile.payload).toBe('hostile');
    expect(hostile.headers['x-evil']).toBeUndefined();
    expect(hostile.headers['content-disposition']).toBe(
      `attachment; filename="a_b_x0d_x0ax-evil: 1_c.txt"; filename*=UTF-8''a%22b%5Cx0d%5Cx0ax-evil%3A%201%3Bc.txt`,
    );

    const folder = await get(`${API_PREFIX}/dump?${new URLSearchParams({ snapshot: snap, path: `${data}/sub` }).toString()}`);
    expect(folder.statusCode).toBe(200);
    expect(folder.headers['content-type']).toBe('application/x-tar');
    expect(folder.headers['content-disposition']).toBe(`attachment; filename="sub.tar"; filename*=UTF-8''sub.tar`);
    expect(folder.rawPayload.includes(inner.subarray(0, 4096))).toBe(true);
  });

  test('names that are not UTF-8 download too, by their exact bytes (pathHex): the file as it is, the folder as a tar holding the byte-exact name; the header stays ASCII', async () => {
    const listed = await browseOp(svc, { snapshot: snap, path: `${data}/bytes` });
    const [file, dir] = listed.entries;
    expect([file?.type, dir?.type]).toEqual(['file', 'dir']);
    expect(pathHex(file?.path ?? '')).toBe(Buffer.concat([Buffer.from(`${data}/bytes/`), RAW_FILE]).toString('hex'));
    const dump = (q: Record<string, string>) => get(`${API_PREFIX}/dump?${new URLSearchParams({ snapshot: snap, ...q }).toString()}`);

    const got = await dump({ pathHex: pathHex(file?.path ?? '') });
    expect(got.statusCode, got.payload).toBe(200);
    expect(Buffer.compare(got.rawPayload, rawFileBody)).toBe(0);
    expect(got.headers['content-length']).toBe(String(rawFileBody.length));
    // the display form (\xNN) in both spellings: nothing but printable ASCII in the header
    expect(got.headers['content-disposition']).toBe(`attachment; filename="caf_xe9.bin"; filename*=UTF-8''caf%5Cxe9.bin`);

    const tar = await dump({ pathHex: pathHex(dir?.path ?? '') });
    expect(tar.statusCode, tar.payload).toBe(200);
    expect(tar.headers['content-type']).toBe('application/x-tar');
    expect(tar.headers['content-disposition']).toBe(`attachment; filename="dir-_xfe_xff.tar"; filename*=UTF-8''dir-%5Cxfe%5Cxff.tar`);
    for (const h of [got, tar]) expect(String(h.headers['content-disposition'])).toMatch(/^[\x20-\x7e]+$/);
    const innerPath = Buffer.concat([Buffer.from(`${data.slice(1)}/bytes/`), RAW_DIR, Buffer.from('/'), RAW_INNER]);
    expect(tar.rawPayload.includes(innerPath), 'the tar names the file by its exact bytes').toBe(true);
    expect(tar.rawPayload.includes(rawInnerBody)).toBe(true);

    // the path once, in one spelling; hex only as lowercase pairs
    expect((await dump({ path: `${data}/bytes`, pathHex: pathHex(`${data}/bytes`) })).statusCode).toBe(400);
    for (const bad of ['zz', 'abc', 'AB', '']) expect((await dump({ pathHex: bad })).statusCode, bad).toBe(400);
    expect((await dump({})).statusCode).toBe(400);
  });

  test('pathHex is the exact bytes of any name as the agent holds it', () => {
    for (let i = 0; i < 200; i++) {
      const bytes = randomBytes(1 + (i % 40));
      expect(pathHex(fromBytes(bytes))).toBe(bytes.toString('hex'));
    }
    expect(pathHex('/a/é😀')).toBe(Buffer.from('/a/é😀').toString('hex'));
    expect(() => pathHex('a\ud800b')).toThrow(TypeError);
  });

  test('a reader that goes away ends the download writers: a file dump and a folder tar stop waiting for room', async () => {
    /** The writer's end, or "still waiting" after a deadline far beyond what the local work takes. */
    const settled = (p: Promise<void>) =>
      Promise.race([
        p.then(
          () => 'finished',
          (err: Error) => err.message,
        ),
        new Promise<string>((r) => setTimeout(() => r('still waiting'), 10_000)),
      ]);
    // nobody reads `out`: the writer fills it, waits for room, and the reader goes away
    const fileOut = new PassThrough({ highWaterMark: 1024 });
    const file = (await dumpPlan(svc, { snapshot: snap, path: `${data}/sub/inner.bin` })).write(fileOut);
    await new Promise((r) => setTimeout(r, 200));
    fileOut.destroy(); // closed without an error, as a cancelled download leaves it
    expect(await settled(file)).toMatch(/closed it early/);

    const tarOut = new PassThrough({ highWaterMark: 1024 });
    const tar = (await exportPlan(svc, { snapshot: snap, path: `${data}/sub` }))(tarOut);
    await new Promise((r) => setTimeout(r, 200));
    tarOut.destroy(new Error('the download was cancelled'));
    expect(await settled(tar)).toMatch(/the download was cancelled/);
  });

  test('a download cancelled halfway over HTTP: the agent goes on answering (no uncaught stream error)', async () => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    for (const path of [`${data}/many`, `${data}/sub/inner.bin`]) {
      const query = new URLSearchParams({ snapshot: snap, path }).toString();
      await new Promise<void>((resolve, reject) => {
        const req = httpGet(
          { host: '127.0.0.1', port, path: `${API_PREFIX}/dump?${query}`, headers: { host: '127.0.0.1', [API_TOKEN_HEADER]: TOKEN } },
          (res) => {
            expect(res.statusCode).toBe(200);
            res.once('data', () => {
              req.destroy(); // the browser's Cancel
              resolve();
            });
          },
        );
        req.on('error', (err) => (err.message.includes('socket hang up') ? resolve() : reject(err)));
      });
    }
    await new Promise((r) => setTimeout(r, 500));
    const after = await post('browse', { snapshot: snap, path: `${data}/sub` });
    expect(after.statusCode).toBe(200);
  });
});
