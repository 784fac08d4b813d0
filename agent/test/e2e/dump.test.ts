// `cairn dump SNAPSHOT PATH` (issue 21 item 4, restic's dump): a file's bytes to stdout exactly, a
// folder as a tar stream holding its files, a symlink or a missing path refused in one line. Both
// ways the CLI runs: in process (no agent) and through a running agent's API (the /dump route).
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cairn, cairnJson, initHome, tempDir, type CliResult } from '../helpers/cli.js';
import { startAgent, type TestAgent } from '../helpers/agents.js';

const run = promisify(execFile);
let work: string;
let src: string;
let home: string;
let agent: TestAgent;
let runs = 0;
const files: Record<string, Buffer> = {
  'big.bin': randomBytes(5 * 1024 * 1024 + 17),
  'notes.txt': Buffer.from('line one\nline two\n'.repeat(1000)),
  empty: Buffer.alloc(0),
  'sub/deeper/inner.dat': randomBytes(70_000),
};

beforeAll(async () => {
  work = await tempDir('cairn-dump-');
  src = join(work, 'src');
  for (const [rel, bytes] of Object.entries(files)) {
    await mkdir(dirname(join(src, rel)), { recursive: true });
    await writeFile(join(src, rel), bytes);
  }
  await symlink('notes.txt', join(src, 'link'));
  home = await initHome();
  await cairnJson(['backup', src], { home });
}, 120_000);

afterAll(async () => {
  await agent?.stop();
  if (work) await rm(work, { recursive: true, force: true });
  if (home) await rm(dirname(home), { recursive: true, force: true });
});

async function checks(dump: (path: string) => Promise<CliResult>): Promise<void> {
  for (const [rel, bytes] of Object.entries(files)) {
    const r = await dump(join(src, rel));
    expect(r.code, `${rel}: ${r.stderr}`).toBe(0);
    expect(Buffer.compare(r.stdoutBytes, bytes), rel).toBe(0);
  }
  // a folder: a tar stream with its files, byte for byte
  const tarFile = join(work, `sub-${++runs}.tar`);
  const r = await dump(join(src, 'sub'));
  expect(r.code, r.stderr).toBe(0);
  await writeFile(tarFile, r.stdoutBytes);
  const out = join(work, `untar-${runs}`);
  await mkdir(out);
  await run('tar', ['-xf', tarFile, '-C', out]);
  const inner = await readFile(join(out, src.slice(1), 'sub/deeper/inner.dat'));
  expect(Buffer.compare(inner, files['sub/deeper/inner.dat'] as Buffer)).toBe(0);
  // what cannot be dumped, in one line naming it
  const link = await dump(join(src, 'link'));
  expect(link.code).toBe(2);
  expect(link.stderr.trim().split('\n')).toHaveLength(1);
  expect(link.stderr).toMatch(/is a symlink/);
  const missing = await dump(join(src, 'nope'));
  expect(missing.code).not.toBe(0);
  expect(missing.stderr).toMatch(/nope is not in snapshot latest/);
}

describe('cairn dump', () => {
  test('in process: files exact, a folder as tar, a symlink and a missing path refused', async () => {
    await checks((path) => cairn(['dump', 'latest', path], { home }));
  }, 120_000);

  test("through the running agent's API: the same", async () => {
    agent = await startAgent('dump', { home, existing: { recoveryPhrase: '' } });
    await checks((path) => cairn(['dump', 'latest', path], { home }));
  }, 180_000);
});
