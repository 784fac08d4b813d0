// The layer rules of eslint.config.js (docs/ARCHITECTURE.md), run through ESLint's Node API on probe
// sources placed (virtually: lintText with a file path) in the folders they would live in. Removing
// a rule, or a folder from the LAYERS table, fails a case here.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const eslint = new ESLint({ cwd: ROOT });

/** The restriction messages ESLint reports for `code` as if it were the file `path` (from the repository root). */
async function restricted(path: string, code: string): Promise<string[]> {
  const [r] = await eslint.lintText(code, { filePath: join(ROOT, path) });
  return (r?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports' || m.ruleId === 'no-restricted-syntax').map((m) => m.message);
}

describe('layers: npm run lint refuses an upward import', () => {
  it('util/ may not import mesh/ (static, type-only or import())', async () => {
    expect(await restricted('agent/src/util/probe.ts', "import { Mesh } from '../mesh/mesh.js';\nexport const x = Mesh;\n")).toEqual([
      expect.stringContaining('util may not import mesh'),
    ]);
    expect(await restricted('agent/src/util/probe.ts', "import type { Mesh } from '../mesh/mesh.js';\nexport type X = Mesh;\n")).toEqual([
      expect.stringContaining('util may not import mesh'),
    ]);
    expect(await restricted('agent/src/util/probe.ts', "export const load = () => import('../mesh/mesh.js');\n")).toEqual([
      expect.stringContaining('util may not import() that folder'),
    ]);
  });

  it('util/ imports nothing from protocol/; protocol/ nothing from agent/', async () => {
    expect(
      await restricted('agent/src/util/probe.ts', "import { PACK_FRAME_BYTES } from '../../../protocol/mesh.js';\nexport const x = PACK_FRAME_BYTES;\n"),
    ).toEqual([expect.stringContaining('util may not import protocol')]);
    expect(await restricted('protocol/probe.ts', "import { parseSize } from '../agent/src/util/units.js';\nexport const x = parseSize;\n")).toEqual([
      expect.stringContaining('protocol/ imports nothing from agent/'),
    ]);
  });

  it('mesh/ may not import ops/ (the old bench-sink break); ops/ may import mesh/ and repo/', async () => {
    expect(await restricted('agent/src/mesh/probe.ts', "import type { Services } from '../ops/services.js';\nexport type X = Services;\n")).toEqual([
      expect.stringContaining('mesh may not import ops'),
    ]);
    expect(
      await restricted(
        'agent/src/ops/probe.ts',
        "import type { Mesh } from '../mesh/mesh.js';\nimport { Repository } from '../repo/repository.js';\nexport type X = Mesh;\nexport const y = Repository;\n",
      ),
    ).toEqual([]);
  });

  it('the product never imports bench/ (benchmark-only code is wired by the bench alone)', async () => {
    for (const path of ['agent/src/mesh/probe.ts', 'agent/src/api/probe.ts', 'agent/src/daemon.ts'])
      expect(await restricted(path, "import { benchStream } from '../../bench/sink/bench-sink.js';\nexport const x = benchStream;\n"), path).toEqual([
        expect.stringContaining('the product never imports bench/'),
      ]);
  });

  it('folders on one row do not import each other; config/ and state/ only from their readers', async () => {
    expect(await restricted('agent/src/crypto/probe.ts', "import { FastCdc } from '../chunker/fastcdc.js';\nexport const x = FastCdc;\n")).toEqual([
      expect.stringContaining('crypto may not import chunker'),
    ]);
    expect(await restricted('agent/src/snapshot/probe.ts', "import type { Sublevels } from '../state/db.js';\nexport type X = Sublevels;\n")).toEqual([
      expect.stringContaining('snapshot may not import state'),
    ]);
    expect(await restricted('agent/src/repo/probe.ts', "import type { Sublevels } from '../state/db.js';\nexport type X = Sublevels;\n")).toEqual([]);
    expect(await restricted('agent/src/ops/probe.ts', "import { loadConfig } from '../config/load.js';\nexport const x = loadConfig;\n")).toEqual([
      expect.stringContaining('ops may not import config'),
    ]);
    expect(
      await restricted('agent/src/config/probe.ts', "import { parseKeepWithin } from '../snapshot/retention.js';\nexport const x = parseKeepWithin;\n"),
    ).toEqual([expect.stringContaining('config may not import snapshot')]);
  });

  it('the CLI reaches the engine only through ops/ (the home layout excepted); the daemon never imports the CLI', async () => {
    expect(
      await restricted('agent/src/cli/commands/probe.ts', "import { Repository } from '../../repo/repository.js';\nexport const x = Repository;\n"),
    ).toEqual([expect.stringContaining('cli may not import repo')]);
    expect(
      await restricted('agent/src/cli/commands/probe.ts', "import type { Archiver } from '../../snapshot/archiver.js';\nexport type X = Archiver;\n"),
    ).toEqual([expect.stringContaining('cli may not import snapshot')]);
    expect(
      await restricted(
        'agent/src/cli/commands/probe.ts',
        "import { homePaths } from '../../repo/home.js';\nimport { backupOp } from '../../ops/backup.js';\nimport { Agent } from '../../daemon.js';\nexport const x = [homePaths, backupOp, Agent];\n",
      ),
    ).toEqual([]);
    expect(await restricted('agent/src/daemon.ts', "import { makeContext } from './cli/context.js';\nexport const x = makeContext;\n")).toEqual([
      expect.stringContaining('daemon.ts may not import cli'),
    ]);
  });

  it('the composition root is below the daemon and the CLI, which both use it, and above the API, which may not', async () => {
    const probe = "import { openRoot } from '../compose-root.js';\nexport const x = openRoot;\n";
    expect(await restricted('agent/src/cli/probe.ts', probe)).toEqual([]);
    expect(await restricted('agent/src/daemon.ts', "import { openRoot } from './compose-root.js';\nexport const x = openRoot;\n")).toEqual([]);
    expect(await restricted('agent/src/api/probe.ts', probe)).toEqual([expect.stringContaining('api may not import compose-root.ts')]);
    expect(await restricted('agent/src/compose-root.ts', "import { Agent } from './daemon.js';\nexport const x = Agent;\n")).toEqual([
      expect.stringContaining('compose-root.ts may not import daemon.ts'),
    ]);
  });

  it('libraries stay in their folders: dockerode in sources/, sodium in crypto/, libp2p in mesh/, level in state/', async () => {
    expect(await restricted('agent/src/ops/probe.ts', "import Docker from 'dockerode';\nexport const x = Docker;\n")).toEqual([
      expect.stringContaining('dockerode is used only in sources/'),
    ]);
    expect(await restricted('agent/src/sources/probe.ts', "import Docker from 'dockerode';\nexport const x = Docker;\n")).toEqual([]);
    expect(await restricted('agent/src/api/probe.ts', "import sodium from 'sodium-native';\nexport const x = sodium;\n")).toEqual([
      expect.stringContaining('sodium is used only in crypto/'),
    ]);
    expect(await restricted('agent/src/ops/probe.ts', "import { peerIdFromString } from '@libp2p/peer-id';\nexport const x = peerIdFromString;\n")).toEqual([
      expect.stringContaining('libp2p is used only in mesh/'),
    ]);
    expect(await restricted('agent/src/repo/probe.ts', "import { Level } from 'level';\nexport const x = Level;\n")).toEqual([
      expect.stringContaining('LevelDB is used only in state/'),
    ]);
  });

  it('the console imports protocol/ types only', async () => {
    expect(await restricted('console/src/probe.ts', "import { statusOp } from '../../agent/src/ops/status.js';\nexport const x = statusOp;\n")).toEqual([
      expect.stringContaining('the console reaches the agent only through the API'),
    ]);
    expect(await restricted('console/src/probe.ts', "import type { BackupResult } from '../../protocol/api.js';\nexport type X = BackupResult;\n")).toEqual([]);
  });
});

describe('layers: no import cycles between modules', () => {
  // ESLint sees one file at a time; cycles inside a folder (archiver <-> volume-archiver once) are found here.
  it('agent/src, protocol/ and console/src form no cycle of relative imports', () => {
    const graph = new Map<string, string[]>();
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith('.ts') && !p.endsWith('.test.ts')) {
          const deps: string[] = [];
          for (const m of readFileSync(p, 'utf8').matchAll(
            /(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g,
          )) {
            deps.push(resolve(dirname(p), (m[1] ?? m[2]) as string).replace(/\.js$/, '.ts'));
          }
          graph.set(p, deps);
        }
      }
    };
    for (const d of ['agent/src', 'protocol', 'console/src']) walk(join(ROOT, d));
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (f: string, path: string[]): void => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        cycles.push(
          path
            .slice(path.indexOf(f))
            .concat(f)
            .map((p) => relative(ROOT, p))
            .join(' -> '),
        );
        return;
      }
      state.set(f, 'open');
      for (const d of graph.get(f) ?? []) if (graph.has(d)) visit(d, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of graph.keys()) visit(f, []);
    expect(graph.size).toBeGreaterThan(100);
    expect(cycles).toEqual([]);
  });
});
