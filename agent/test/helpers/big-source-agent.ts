// An agent whose cairn.yaml has one source, "big": `files` files of 40 MiB of random bytes, so a
// backup of it runs long enough for a console test to watch it (progress, cancel, running state).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startAgent, type TestAgent } from './agents.js';
import { initHome, tempDir } from './cli.js';
import { writeSampleTree } from './sample-tree.js';

const MIB = 1024 * 1024;

export async function agentWithBigSource(name: string, opts: { seed: number; files: number }): Promise<{ agent: TestAgent; data: string }> {
  const data = join(await tempDir(`cairn-${name}-`), 'data');
  await writeSampleTree(data, {
    seed: opts.seed,
    entries: Array.from({ length: opts.files }, (_, i) => ({ kind: 'random' as const, path: `f${i}.bin`, size: 40 * MIB })),
  });
  const home = await initHome();
  await writeFile(join(home, 'cairn.yaml'), `sources:\n  - name: big\n    paths: [${data}]\n`);
  return { agent: await startAgent(name, { home, existing: { recoveryPhrase: '' } }), data };
}
