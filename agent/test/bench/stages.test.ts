// The per-stage CPU table of the engine benchmark (bench/stages.ts): V8 CPU profiles in, seconds by
// stage and kind of thread out. A sample counts for the first frame up its stack that a stage names
// (a native leaf for its caller), idle samples and the launcher's profile are left out, and every
// file and function the stage table names still exists in agent/src (a rename must not quietly
// move its CPU to "other").
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  MAIN,
  OTHER,
  renderStageTable,
  samplingRatio,
  stageOfFrame,
  stageSeconds,
  stageTable,
  STAGES,
  type CpuProfile,
  type StageTable,
} from '../../../bench/stages.js';
import { renderFloors } from '../../../bench/stage-bench.js';
import { Results } from '../../../bench/results.js';

const DIST = 'file:///repo/dist/agent/src';
const MODULES = 'file:///repo/node_modules';

type Frame = [functionName: string, url: string];

/**
 * A profile from stacks (root first) and how long each was sampled (ms). Each stack is a path of
 * nodes below (root), shared where stacks share frames, as V8 writes them; samples are 1 ms apart.
 */
function profile(stacks: Array<{ frames: Frame[]; ms: number }>): CpuProfile {
  const nodes: CpuProfile['nodes'] = [{ id: 1, callFrame: { functionName: '(root)', url: '' }, children: [] }];
  const samples: number[] = [];
  const timeDeltas: number[] = [];
  for (const { frames, ms } of stacks) {
    let at = nodes[0] as CpuProfile['nodes'][number];
    for (const [functionName, url] of frames) {
      let next = (at.children ?? [])
        .map((id) => nodes.find((n) => n.id === id))
        .find((n) => n?.callFrame.functionName === functionName && n.callFrame.url === url);
      if (next === undefined) {
        next = { id: nodes.length + 1, callFrame: { functionName, url }, children: [] };
        nodes.push(next);
        at.children?.push(next.id);
      }
      at = next;
    }
    for (let i = 0; i < ms; i++) {
      samples.push(at.id);
      timeDeltas.push(1000);
    }
  }
  const startTime = 1_000_000;
  // the last sample lasts until endTime, 1 ms after it
  const endTime = startTime + timeDeltas.reduce((a, b) => a + b, 0) + 1000;
  return { nodes, startTime, endTime, samples, timeDeltas };
}

const main: Frame = ['(anon)', `${DIST}/cli/main.js`];
const saveFd: Frame = ['saveFd', `${DIST}/snapshot/file-saver.js`];

const mainThread = profile([
  // a native read (no script) under node:fs under the file saver: read
  { frames: [main, saveFd, ['readSync', 'node:fs'], ['read', '']], ms: 40 },
  // the chunker itself
  { frames: [main, saveFd, ['cut', `${DIST}/chunker/fastcdc.js`]], ms: 30 },
  // an unknown native leaf under node's hash under blobId: blob IDs
  {
    frames: [
      main,
      ['saveChunk', `${DIST}/snapshot/file-saver.js`],
      ['blobId', `${DIST}/crypto/ids.js`],
      ['update', 'node:internal/crypto/hash'],
      ['(anon)', ''],
    ],
    ms: 20,
  },
  // the pack hash: another function of ids.js
  { frames: [main, ['queue', `${DIST}/repo/packer.js`], ['update', `${DIST}/crypto/ids.js`]], ms: 5 },
  { frames: [['(garbage collector)', '']], ms: 7 },
  { frames: [['(idle)', '']], ms: 500 },
  // nothing a stage names: other
  { frames: [main, ['backupCommand', `${DIST}/cli/commands/backup.js`]], ms: 4 },
]);

const sealWorker = profile([
  {
    frames: [
      ['(anon)', `${DIST}/repo/seal-worker.js`],
      ['compressAndSeal', `${DIST}/repo/seal-worker.js`],
      ['compress', `${DIST}/repo/compress.js`],
      ['compress', `${MODULES}/zstd-napi/dist/compress.js`],
    ],
    ms: 25,
  },
  {
    frames: [
      ['(anon)', `${DIST}/repo/seal-worker.js`],
      ['compressAndSeal', `${DIST}/repo/seal-worker.js`],
      ['seal', `${DIST}/crypto/aead.js`],
      ['exports.crypto_aead_xchacha20poly1305_ietf_encrypt', `${MODULES}/sodium-native/index.js`],
    ],
    ms: 15,
  },
  { frames: [['(idle)', '']], ms: 100 },
]);

/** bin/cairn.js before it re-executes: no Cairn code, left out. */
const launcher = profile([{ frames: [['(anon)', 'file:///repo/bin/cairn.js']], ms: 50 }]);

const round = (m: Map<string, number>) => Object.fromEntries([...m].map(([k, v]) => [k, Math.round(v * 1000) / 1000]));

describe('stage table', () => {
  test('samples go to the first frame up the stack that a stage names; idle is left out', () => {
    expect(round(stageSeconds(mainThread))).toEqual({ read: 0.04, chunk: 0.03, blobid: 0.02, packhash: 0.005, gc: 0.007, [OTHER.id]: 0.004 });
    expect(round(stageSeconds(sealWorker))).toEqual({ compress: 0.025, seal: 0.015 });
  });

  test('threads by kind, the launcher left out, scaled to what the threads reported', () => {
    const t = stageTable([
      [0, launcher],
      [0, mainThread],
      [1, sealWorker],
      [2, sealWorker],
    ]);
    expect(t.kinds).toEqual(['main', 'seal']);
    expect(t.threads).toEqual({ main: 1, seal: 2 });
    // sampled: main 0.106 s, seal 0.08 s; reported: twice that
    expect(samplingRatio(t, { main: 0.212, seal: 0.16 })).toBeCloseTo(0.5, 6);
    expect(renderStageTable(t, { main: 0.212, seal: 0.16 })).toEqual([
      '| stage | main thread (CPU-s) | seal workers ×2 (CPU-s) | all threads (CPU-s) |',
      '|---|---:|---:|---:|',
      '| read file data | 0.08 | 0.00 | 0.08 |',
      '| chunk (FastCDC) | 0.06 | 0.00 | 0.06 |',
      '| blob IDs (HMAC-SHA256) | 0.04 | 0.00 | 0.04 |',
      '| compress / decompress (zstd) | 0.00 | 0.10 | 0.10 |',
      '| seal / open (XChaCha20-Poly1305) | 0.00 | 0.06 | 0.06 |',
      '| pack SHA-256 | 0.01 | 0.00 | 0.01 |',
      '| garbage collection (V8) | 0.01 | 0.00 | 0.01 |',
      '| other JS (CLI, orchestration, promises) | 0.01 | 0.00 | 0.01 |',
      "| **all stages: the threads' own CPU** | 0.21 | 0.16 | 0.37 |",
      '| sampled, not idle (s, before scaling) | 0.11 | 0.08 | 0.19 |',
    ]);
    // without a report: as sampled
    expect(renderStageTable(stageTable([[1, sealWorker]]))).toEqual([
      '| stage | seal workers ×1 (s sampled) | all threads (s sampled) |',
      '|---|---:|---:|',
      '| compress / decompress (zstd) | 0.03 | 0.03 |',
      '| seal / open (XChaCha20-Poly1305) | 0.02 | 0.02 |',
      '| **sampled, not idle** | 0.04 | 0.04 |',
    ]);
  });

  test('frames that share a file go to the stage their function belongs to', () => {
    const at = (fn: string, path: string) => stageOfFrame({ functionName: fn, url: `${DIST}/${path}` });
    expect(at('chunkOf', 'snapshot/file-saver.js')).toBe('copy');
    expect(at('saveFd', 'snapshot/file-saver.js')).toBe('read');
    expect(at('readFd', 'snapshot/tree-builder.js')).toBe('read');
    expect(at('add', 'snapshot/tree-builder.js')).toBe('trees');
    expect(at('getRange', 'store/local-pack-store.js')).toBe('packread');
    expect(at('adoptNew', 'store/local-pack-store.js')).toBe('packwrite');
    expect(at('lstatAt', 'util/posix.js')).toBe('walk');
    expect(at('setTimesNsFd', 'util/posix.js')).toBe('restoremeta');
    expect(at('writeContent', 'snapshot/restorer.js')).toBe('restoredata');
    expect(at('restoreDir', 'snapshot/restorer.js')).toBe('restoremeta');
    expect(stageOfFrame({ functionName: 'exports.crypto_pwhash', url: `${MODULES}/sodium-native/index.js` })).toBe('unlock');
    expect(stageOfFrame({ functionName: 'compileForInternalLoader', url: 'node:internal/bootstrap/realm' })).toBe('startup');
    expect(stageOfFrame({ functionName: '(program)', url: '' })).toBe('program');
    expect(stageOfFrame({ functionName: 'read', url: '' })).toBeUndefined();
  });

  test('every file and function the stages name exists in agent/src', () => {
    const root = join(import.meta.dirname, '..', '..', '..');
    const missing: string[] = [];
    for (const stage of STAGES)
      for (const m of stage.frames) {
        const at = m.url.indexOf('/agent/src/');
        if (at < 0) continue;
        const rel = m.url.slice(at + 1).replace(/\.js$/, '.ts');
        const path = join(root, rel);
        if (!existsSync(path)) {
          missing.push(`${stage.id}: ${rel}`);
          continue;
        }
        if (m.fn === undefined || rel.endsWith('/')) continue;
        const source = readFileSync(path, 'utf8');
        // the names in a pattern such as /^(a|b)$/ or /^(?!a$)/
        for (const name of m.fn.source.match(/[A-Za-z_]\w*/g) ?? [])
          if (!new RegExp(`\\b${name}\\s*(<[^>]*>)?\\(`).test(source)) missing.push(`${stage.id}: ${rel} ${name}()`);
      }
    expect(missing).toEqual([]);
  });
});

describe('floors next to the first backup (bench/stage-bench.ts renderFloors)', () => {
  const floors = {
    dataBytes: 1_000_000_000,
    files: 10,
    floors: [
      { stage: 'chunk', label: 'chunk', what: 'FastCDC', cpuS: 2 },
      { stage: 'compress', label: 'compress', what: 'zstd', cpuS: 3 },
    ],
  };
  const table = (chunkS: number): StageTable => ({
    kinds: [MAIN],
    threads: { [MAIN]: 1 },
    seconds: new Map([
      ['chunk', new Map([[MAIN, chunkS]])],
      ['compress', new Map([[MAIN, 4]])],
    ]),
  });
  const results = new Results();

  test('a stage that cost less than its floor is named, and the floors read as approximate', () => {
    const text = renderFloors(floors, table(1), { results, cores: 2 }, 1).join('\n');
    expect(text).toContain('| chunk | FastCDC | 2.00 | 500 | 1.00 | 0.5× |');
    expect(text).toContain('**Below the floor:** chunk.');
  });

  test('no such line when every stage cost at least its floor', () => {
    const text = renderFloors(floors, table(2.5), { results, cores: 2 }, 1).join('\n');
    expect(text).not.toContain('Below the floor');
  });
});
