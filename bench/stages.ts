// Where Cairn's CPU goes, stage by stage (issue 20 item 8): each Cairn step of the engine part is
// run once more with V8's sampling CPU profiler on (`node --cpu-prof`; bin/cairn.js hands the flag
// on when it re-executes, and every worker thread writes a profile of its own). Each profile's
// samples are attributed to a stage by walking up the sample's stack to the first frame that STAGES
// names (by script URL and function name): a native frame (a syscall, a hash update, a koffi call)
// counts for the Cairn function that called it. The mapping is the one table below.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A frame the table can name: `url` is a part of the script's URL, `fn` (when given) must match the function's name. */
export interface FrameMatch {
  url: string;
  fn?: RegExp;
}

export interface Stage {
  id: string;
  label: string;
  /** Frames that belong to this stage (any of them). */
  frames: FrameMatch[];
}

const agent = (path: string, fn?: RegExp): FrameMatch => ({ url: `/agent/src/${path}`, ...(fn ? { fn } : {}) });
const pkg = (name: string, fn?: RegExp): FrameMatch => ({ url: `/node_modules/${name}/`, ...(fn ? { fn } : {}) });
/** V8's own pseudo-frames, which have no script. */
const v8 = (name: string): FrameMatch => ({ url: '', fn: new RegExp(`^${name.replace(/[()]/g, '\\$&')}$`) });

/** Pack store functions that read (restores, parent trees); the rest of local-pack-store.js writes (the next stage). */
const PACK_READS = /^(getRange|readInto|readAtMost|fill|acquire|release|get)$/;
/** util/posix.js: what the walk calls, and what a restore calls to set metadata. */
const POSIX_WALK = /^(lstatAt|readDirFd|listXattrs|getXattr|readXattrs)$/;
const POSIX_META = /^(setTimesNs|setTimesNsFd|setXattr|setXattrFd|makeNode)$/;
/** restorer.js: writing file data; its other functions create entries and set metadata. */
const RESTORE_DATA = /^(writeContent|writeFile|replaceContent|dataRuns)$/;

/**
 * The stages, in the order the tables list them. A frame belongs to the first stage in this order
 * with a match for it (so order matters only where two entries match the same frame, e.g. sodium's
 * crypto_pwhash before the rest of sodium-native). Frames of no stage are passed over on the way up.
 */
export const STAGES: readonly Stage[] = [
  {
    id: 'startup',
    label: 'start-up, module loading',
    frames: [{ url: 'node:internal/modules/' }, { url: 'node:internal/bootstrap/' }, { url: 'node:internal/main/' }, { url: '/bin/cairn.js' }],
  },
  {
    id: 'unlock',
    label: 'unlock (Argon2id, key derivation)',
    frames: [pkg('sodium-native', /crypto_pwhash/), agent('crypto/kdf.js'), agent('crypto/key-file.js'), agent('crypto/password.js')],
  },
  {
    id: 'walk',
    label: 'walk: list dirs, lstat, xattrs, open files',
    frames: [
      agent('snapshot/directory-entries.js'),
      agent('util/posix.js', POSIX_WALK),
      agent('util/fd-at.js'),
      agent('util/byte-names.js'),
      agent('snapshot/node-meta.js'),
    ],
  },
  { id: 'read', label: 'read file data', frames: [agent('snapshot/file-saver.js', /^(?!chunkOf$)/), agent('snapshot/tree-builder.js', /^readFd$/)] },
  { id: 'chunk', label: 'chunk (FastCDC)', frames: [agent('chunker/')] },
  { id: 'copy', label: 'copy chunks out of the read buffer', frames: [agent('snapshot/file-saver.js', /^chunkOf$/)] },
  { id: 'blobid', label: 'blob IDs (HMAC-SHA256)', frames: [agent('crypto/ids.js', /^blobId$/)] },
  { id: 'compress', label: 'compress / decompress (zstd)', frames: [agent('repo/compress.js'), pkg('zstd-napi')] },
  {
    id: 'seal',
    label: 'seal / open (XChaCha20-Poly1305)',
    frames: [agent('crypto/aead.js'), agent('repo/blob.js'), agent('repo/repository.js', /^openBlob$/), pkg('sodium-native')],
  },
  {
    id: 'handoff',
    label: 'hand-off to and from seal workers',
    frames: [agent('repo/seal-pool.js'), agent('repo/seal-worker.js'), { url: 'node:internal/per_context/messageport' }],
  },
  { id: 'packhash', label: 'pack SHA-256', frames: [agent('crypto/ids.js')] },
  {
    id: 'packread',
    label: 'pack read',
    frames: [agent('store/local-pack-store.js', PACK_READS), agent('repo/pack-windows.js'), agent('repo/repository.js', /^loadBlob$/)],
  },
  {
    id: 'packwrite',
    label: 'pack write + fsync',
    frames: [
      agent('repo/packer.js'),
      agent('repo/pack-format.js'),
      agent('store/pack-file-writer.js'),
      agent('util/fsx.js'),
      agent('store/local-pack-store.js'),
    ],
  },
  {
    id: 'index',
    label: 'index, LevelDB',
    frames: [
      agent('repo/index.js'),
      agent('repo/blob-table.js'),
      agent('repo/index-from-packs.js'),
      agent('repo/repository.js', /^(listSnapshots|commitSnapshot)$/),
      agent('state/'),
      pkg('classic-level'),
      pkg('abstract-level'),
      pkg('level-transcoder'),
      pkg('level'),
    ],
  },
  {
    id: 'trees',
    label: 'trees: build, encode, decode, save',
    frames: [agent('repo/trees.js'), agent('snapshot/tree-builder.js'), agent('snapshot/tree-saver.js'), agent('snapshot/tree-walk.js')],
  },
  { id: 'restoredata', label: 'restore: write file data', frames: [agent('snapshot/restorer.js', RESTORE_DATA)] },
  {
    id: 'restoremeta',
    label: 'restore: create entries, metadata',
    frames: [agent('snapshot/restorer.js'), agent('snapshot/restore-fetch.js'), agent('util/posix.js', POSIX_META)],
  },
  { id: 'gc', label: 'garbage collection (V8)', frames: [v8('(garbage collector)')] },
  { id: 'program', label: 'V8 and Node native, no JS on the stack', frames: [v8('(program)')] },
];

/** Samples whose stack names no stage: the command, the archiver and restorer loops, promise machinery. */
export const OTHER = { id: 'other', label: 'other JS (CLI, orchestration, promises)' } as const;
/** The profiler's name for a thread waiting in its event loop: not CPU, left out. */
const IDLE = '(idle)';

/** What `node --cpu-prof` writes (the parts read here). */
export interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string }; children?: number[] }>;
  startTime: number;
  endTime: number;
  samples: number[];
  /** Microseconds since the previous sample (the first: since startTime). */
  timeDeltas: number[];
}

function matches(m: FrameMatch, frame: { functionName: string; url: string }): boolean {
  if (m.url === '' ? frame.url !== '' : !frame.url.includes(m.url)) return false;
  return m.fn === undefined || m.fn.test(frame.functionName);
}

/** The stage a frame belongs to, or undefined. */
export function stageOfFrame(frame: { functionName: string; url: string }): string | undefined {
  return STAGES.find((s) => s.frames.some((m) => matches(m, frame)))?.id;
}

/**
 * Seconds of one profile by stage (idle left out): each sample lasts until the next one, and
 * counts for the stage of the first frame from its leaf up that has one (else OTHER).
 */
export function stageSeconds(profile: CpuProfile): Map<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stageOfNode = new Map<number, string | null>();
  const resolve = (id: number): string | null => {
    const known = stageOfNode.get(id);
    if (known !== undefined) return known;
    const node = byId.get(id);
    let stage: string | null;
    if (node === undefined) stage = OTHER.id;
    else if (node.callFrame.functionName === IDLE) stage = null;
    else {
      const up = parent.get(id);
      stage = stageOfFrame(node.callFrame) ?? (up === undefined ? OTHER.id : resolve(up));
    }
    stageOfNode.set(id, stage);
    return stage;
  };
  const out = new Map<string, number>();
  const { samples, timeDeltas } = profile;
  const lastAt = profile.startTime + timeDeltas.reduce((a, b) => a + b, 0);
  for (let i = 0; i < samples.length; i++) {
    const micros = i + 1 < samples.length ? (timeDeltas[i + 1] as number) : profile.endTime - lastAt;
    const stage = resolve(samples[i] as number);
    if (stage === null || micros <= 0) continue;
    out.set(stage, (out.get(stage) ?? 0) + micros / 1e6);
  }
  return out;
}

/** Workers by what they run (a profile's scripts); "main" is every main thread (the launcher's and the command's). */
const WORKER_KINDS: ReadonlyArray<{ kind: string; url: string }> = [
  { kind: 'seal', url: '/agent/src/repo/seal-worker.js' },
  { kind: 'hashing', url: '/agent/src/store/hashing-writer-worker.js' },
];
export const MAIN = 'main';

/** The kind of thread a profile is of: MAIN for thread 0, else the worker's kind by its script. */
export function threadKind(threadId: number, profile: CpuProfile): string {
  if (threadId === 0) return MAIN;
  const found = WORKER_KINDS.find((k) => profile.nodes.some((n) => n.callFrame.url.includes(k.url)));
  return found?.kind ?? 'other';
}

/** Seconds by stage and kind of thread, over the profiles of one command. */
export interface StageTable {
  /** MAIN first, then the worker kinds seen. */
  kinds: string[];
  /** How many threads of each kind wrote a profile. */
  threads: Record<string, number>;
  /** stage id -> kind -> seconds */
  seconds: Map<string, Map<string, number>>;
}

/** A main thread that never ran Cairn's code: bin/cairn.js before it re-executes itself (its profile is left out). */
function isLauncher(threadId: number, profile: CpuProfile): boolean {
  return threadId === 0 && !profile.nodes.some((n) => n.callFrame.url.includes('/agent/src/'));
}

/** Adds up profiles given as [thread id, profile], the launcher's left out. */
export function stageTable(profiles: ReadonlyArray<[number, CpuProfile]>): StageTable {
  const threads: Record<string, number> = {};
  const seconds = new Map<string, Map<string, number>>();
  for (const [tid, p] of profiles) {
    if (isLauncher(tid, p)) continue;
    const kind = threadKind(tid, p);
    threads[kind] = (threads[kind] ?? 0) + 1;
    for (const [stage, s] of stageSeconds(p)) {
      const row = seconds.get(stage) ?? new Map<string, number>();
      row.set(kind, (row.get(kind) ?? 0) + s);
      seconds.set(stage, row);
    }
  }
  const kinds = [
    MAIN,
    ...Object.keys(threads)
      .filter((k) => k !== MAIN)
      .sort(),
  ].filter((k) => threads[k] !== undefined);
  return { kinds, threads, seconds };
}

/** Node names a profile CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile. */
const PROFILE_NAME = /^CPU\.\d+\.\d+\.\d+\.(\d+)\.\d+\.cpuprofile$/;

/** Reads every profile `node --cpu-prof-dir=DIR` left in `dir`. */
export async function readProfiles(dir: string): Promise<Array<[number, CpuProfile]>> {
  const out: Array<[number, CpuProfile]> = [];
  for (const name of (await readdir(dir)).sort()) {
    const m = PROFILE_NAME.exec(name);
    if (m) out.push([Number(m[1]), JSON.parse(await readFile(join(dir, name), 'utf8')) as CpuProfile]);
  }
  return out;
}

/** Seconds of a stage, all threads together. */
export function stageTotal(t: StageTable, stage: string): number {
  let sum = 0;
  for (const s of t.seconds.get(stage)?.values() ?? []) sum += s;
  return sum;
}

/** Seconds of every stage, all threads together. */
export function tableTotal(t: StageTable): number {
  let sum = 0;
  for (const stage of t.seconds.keys()) sum += stageTotal(t, stage);
  return sum;
}

const ROWS = [...STAGES.map((s) => ({ id: s.id, label: s.label })), OTHER];
/** Rows below this in every column are left out of a table (their seconds still count in the total). */
const SHOWN_MIN_S = 0.005;

/** Seconds of each kind of thread, all stages together. */
function kindTotals(t: StageTable): Map<string, number> {
  const out = new Map<string, number>();
  for (const row of t.seconds.values()) for (const [k, v] of row) out.set(k, (out.get(k) ?? 0) + v);
  return out;
}

/**
 * The table in CPU seconds: each kind of thread's stages scaled so that they add up to the CPU its
 * threads reported themselves (`cpuByKind`, CAIRN_CPU_REPORT), which sampling misses where a thread
 * waited for a core or in a blocking call. A kind with no report, or no samples, stays as sampled.
 */
export function scaleToCpu(t: StageTable, cpuByKind: Readonly<Record<string, number>>): StageTable {
  const sampled = kindTotals(t);
  const factor = (k: string) => {
    const cpu = cpuByKind[k];
    const s = sampled.get(k) ?? 0;
    return cpu === undefined || s <= 0 ? 1 : cpu / s;
  };
  const seconds = new Map([...t.seconds].map(([stage, row]) => [stage, new Map([...row].map(([k, v]) => [k, v * factor(k)]))]));
  return { ...t, seconds };
}

/** Seconds sampled (not idle) per CPU-s the same threads reported: about 1 on an idle machine. */
export function samplingRatio(t: StageTable, cpuByKind: Readonly<Record<string, number>>): number {
  let sampled = 0;
  let cpu = 0;
  for (const [k, s] of kindTotals(t)) {
    const c = cpuByKind[k];
    if (c === undefined) continue;
    sampled += s;
    cpu += c;
  }
  return cpu > 0 ? sampled / cpu : 1;
}

/**
 * One step's table: a row per stage, a column per kind of thread and their sum. With `cpuByKind`
 * (what the threads reported) the rows are scaled to it (scaleToCpu) and a last row gives the
 * seconds as sampled; without, the rows are the sampled seconds.
 */
export function renderStageTable(sampled: StageTable, cpuByKind?: Readonly<Record<string, number>>): string[] {
  const t = cpuByKind === undefined ? sampled : scaleToCpu(sampled, cpuByKind);
  const unit = cpuByKind === undefined ? 's sampled' : 'CPU-s';
  const head = t.kinds.map((k) => (k === MAIN ? `main thread (${unit})` : `${k} workers ×${t.threads[k] ?? 0} (${unit})`));
  const lines = [`| stage | ${head.join(' | ')} | all threads (${unit}) |`, `|---|${t.kinds.map(() => '---:|').join('')}---:|`];
  const cell = (v: number) => v.toFixed(2);
  const row = (label: string, values: number[]) => `| ${label} | ${values.map(cell).join(' | ')} | ${cell(values.reduce((a, b) => a + b, 0))} |`;
  for (const r of ROWS) {
    const values = t.kinds.map((k) => t.seconds.get(r.id)?.get(k) ?? 0);
    if (values.some((v) => v >= SHOWN_MIN_S)) lines.push(row(r.label, values));
  }
  const totals = kindTotals(t);
  lines.push(
    row(
      cpuByKind === undefined ? '**sampled, not idle**' : "**all stages: the threads' own CPU**",
      t.kinds.map((k) => totals.get(k) ?? 0),
    ),
  );
  if (cpuByKind !== undefined) {
    const raw = kindTotals(sampled);
    lines.push(
      row(
        'sampled, not idle (s, before scaling)',
        t.kinds.map((k) => raw.get(k) ?? 0),
      ),
    );
  }
  return lines;
}
