// Docker volumes as sources: `cairn volumes` (discovery with each volume's last snapshot) and
// `cairn backup volume:NAME...` (through the volume's mountpoint when the agent can read it, else
// through a helper container streaming a tar, with the consistency hooks of the containers that
// mount it). A snapshot of volume NAME is tagged `volume:NAME`; the volume sits at its mountpoint
// path in the snapshot, in the portable volume profile (SPEC 6.1), whichever way it was read. The
// `docker inspect` of the containers mounting it is a metadata blob of the snapshot (SPEC 7).
import { constants, type BigIntStats } from 'node:fs';
import { nodeType } from '../snapshot/node-meta.js';
import { access, lstat, readdir, readFile, readlink, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type {
  BackupResult,
  HookLogEntry,
  LsEntry,
  VolumeBackupArgs,
  VolumeBackupResult,
  VolumeReadMode,
  VolumeRestoreArgs,
  VolumeRestoreResult,
  VolumesResult,
} from '../../../protocol/api.js';
import type { SnapshotMeta } from '../../../protocol/snapshot.js';
import { VOLUME_READ_MODES } from '../../../protocol/config.js';
import { loadSnapshotMeta } from '../snapshot/snapshot-meta.js';
import type { Archiver, VolumeSpec } from '../snapshot/archiver.js';
import { mountpointEntries } from '../snapshot/volume-archiver.js';
import { helperEntries } from '../sources/volume-helper.js';
import type { Restorer } from '../snapshot/restorer.js';
import { connectDocker, discoverVolumes, type DiscoveredVolume } from '../sources/docker.js';
import { inspectUsers, usageOf } from '../sources/docker-inspect.js';
import { Hooks, HookFailedError, type HookLogger } from '../sources/hooks.js';
import { CairnError, UsageError } from '../util/errors.js';
import { backupOp } from './backup.js';
import { lsOp } from './browse.js';
import { restoreOp, type RestoreTotals } from './restore.js';
import type { ClockDeps, HomeDeps, MaybeMeshDeps, RepoDeps } from './services.js';

export const VOLUME_PREFIX = 'volume:';
export const volumeTag = (name: string): string => `${VOLUME_PREFIX}${name}`;

/** Splits backup arguments into plain paths and volume names (`volume:NAME`). */
export function splitVolumeArgs(args: string[]): { paths: string[]; volumes: string[] } {
  const paths: string[] = [];
  const volumes: string[] = [];
  for (const a of args) {
    if (!a.startsWith(VOLUME_PREFIX)) paths.push(a);
    else if (a.length === VOLUME_PREFIX.length) throw new UsageError(`"${a}": name the volume, as in volume:NAME`);
    else volumes.push(a.slice(VOLUME_PREFIX.length));
  }
  return { paths, volumes: [...new Set(volumes)] };
}

export async function volumesOp(svc: RepoDeps): Promise<VolumesResult> {
  const volumes = await discoverVolumes(await connectDocker());
  const latest = new Map<string, { id: string; shortId: string; time: string }>();
  for (const { id, snapshot } of await svc.repo.listSnapshots()) {
    for (const tag of snapshot.tags) {
      if (!tag.startsWith(VOLUME_PREFIX)) continue;
      const name = tag.slice(VOLUME_PREFIX.length);
      const prev = latest.get(name);
      if (!prev || snapshot.time >= prev.time) latest.set(name, { id, shortId: id.slice(0, 8), time: snapshot.time });
    }
  }
  return volumes.map((v) => ({ ...v, lastSnapshot: latest.get(v.name) ?? null }));
}

export interface VolumeSource {
  volume: DiscoveredVolume;
  /** The volume's mountpoint: where it is read on the mountpoint path, and its path in the snapshot either way. */
  path: string;
  via: 'mountpoint' | 'helper';
}

/** The read path asked for: the argument, else CAIRN_VOLUME_READ, else auto. */
export function volumeReadMode(arg: string | undefined, env: NodeJS.ProcessEnv = process.env): VolumeReadMode {
  const v = (arg ?? env.CAIRN_VOLUME_READ ?? 'auto').trim() || 'auto';
  if (!(VOLUME_READ_MODES as readonly string[]).includes(v)) throw new UsageError(`volume read path "${v}" is not one of ${VOLUME_READ_MODES.join(', ')}`);
  return v as VolumeReadMode;
}

/** Why the agent cannot read a mountpoint itself, or undefined when it can (a directory it may list and enter). */
async function mountpointProblem(path: string): Promise<string | undefined> {
  try {
    if (!(await stat(path)).isDirectory()) return 'not a directory';
    await access(path, constants.R_OK | constants.X_OK);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  }
}

/**
 * How each named volume is read. auto: through the mountpoint when the agent can list and enter it
 * (stat + access R_OK|X_OK), else through a helper container. Unknown volumes are a usage error.
 */
export async function resolveVolumeSources(all: DiscoveredVolume[], names: string[], mode: VolumeReadMode = 'auto'): Promise<VolumeSource[]> {
  const byName = new Map(all.map((v) => [v.name, v]));
  const missing = names.filter((n) => !byName.has(n));
  if (missing.length > 0) throw new UsageError(`no such Docker volume: ${missing.join(', ')} (see "cairn volumes")`, 'E_NO_VOLUME');
  const out: VolumeSource[] = [];
  for (const name of names) {
    const volume = byName.get(name) as DiscoveredVolume;
    const path = resolve(volume.mountpoint);
    if (mode === 'helper') {
      out.push({ volume, path, via: 'helper' });
      continue;
    }
    const problem = await mountpointProblem(path);
    if (problem === undefined) out.push({ volume, path, via: 'mountpoint' });
    else if (mode === 'auto') out.push({ volume, path, via: 'helper' });
    else {
      throw new CairnError(
        'E_VOLUME_UNREADABLE',
        `volume ${name}: its mountpoint ${path} is not readable here (${problem}); mount /var/lib/docker/volumes into the agent, or read it through a helper container (--volume-read helper or auto)`,
      );
    }
  }
  return out;
}

/**
 * One snapshot of the volumes (plus any plain paths), tagged `volume:NAME` for each volume, with
 * the containers that mount them stopped / paused / exec'd per their labels.
 */
export async function volumeBackupOp(
  svc: RepoDeps & ClockDeps & HomeDeps,
  args: VolumeBackupArgs,
  onStart?: (a: Archiver) => void,
  onLog?: HookLogger,
  signal?: AbortSignal,
): Promise<VolumeBackupResult> {
  if (args.volumes.length === 0) throw new UsageError('no volumes given: use "cairn backup volume:NAME"');
  const mode = volumeReadMode(args.volumeRead);
  const docker = await connectDocker();
  const hooks = new Hooks(docker, svc.home, svc.clock, onLog);
  // Containers an interrupted backup left stopped or paused run again before anything else.
  await hooks.recoverStopped();
  const discovered = await discoverVolumes(docker);
  const sources = await resolveVolumeSources(discovered, args.volumes, mode);
  const tags = [...new Set([...args.tags, ...args.volumes.map(volumeTag)])];
  const specs: VolumeSpec[] = sources.map((s) => ({
    name: s.volume.name,
    path: s.path,
    cache: s.via === 'mountpoint',
    entries: (excluded, warn, notStored) =>
      s.via === 'mountpoint'
        ? mountpointEntries(s.path, { excluded, skip: new Set([resolve(svc.home)]), warn, notStored })
        : helperEntries(docker, s.volume.name, resolve(svc.home)),
  }));
  // How the volumes are used, taken before any container is stopped (so the states are the usual ones).
  const inspected = await inspectUsers(docker, sources);
  const meta: SnapshotMeta = { version: 1, volumes: inspected };
  let result: BackupResult | undefined;
  try {
    await hooks.around(
      sources.map((s) => s.volume),
      async () => {
        result = await backupOp(
          svc,
          { paths: args.paths, tags, ...(args.source !== undefined ? { source: args.source } : {}), ...(args.exclude ? { exclude: args.exclude } : {}) },
          onStart,
          { volumes: specs, meta, fileCache: svc.repo.volumeFiles, ...(signal ? { signal } : {}) },
        );
      },
      'snapshot',
      args.consistency,
    );
  } catch (err) {
    if (result && err instanceof HookFailedError) {
      throw new HookFailedError(`${err.message} (snapshot ${result.shortId} was saved)`, err.commandExitCode, err.output);
    }
    throw err;
  }
  const saved = result as BackupResult;
  return {
    ...saved,
    volumes: sources.map((s) => ({ name: s.volume.name, path: s.path, via: s.via })),
    log: hooks.log,
    usage: inspected.map(usageOf),
  };
}

// ---- docker inspect kept with each volume backup -----------------------------------------------

/** Before the record moved into the snapshot (SPEC 7 `meta`), it was CAIRN_HOME/volume-inspect/<snapshot id>.json: still read for such snapshots. */
const LEGACY_INSPECT_DIR = 'volume-inspect';

type InspectRecord = Required<SnapshotMeta>;

/** The snapshot's record of its volumes: its metadata blob, or for older snapshots the local file. */
export async function readInspectRecord(svc: RepoDeps & HomeDeps, snapshotId: string, snapshot: { meta?: string }): Promise<InspectRecord | null> {
  const meta = await loadSnapshotMeta(svc.repo, snapshot);
  if (meta) return meta.volumes ? { version: 1, volumes: meta.volumes } : null;
  try {
    return JSON.parse(await readFile(join(svc.home, LEGACY_INSPECT_DIR, `${snapshotId}.json`), 'utf8')) as InspectRecord;
  } catch {
    return null;
  }
}

// ---- restore --to-volume ------------------------------------------------------------------------

/** Where Docker's local driver keeps a volume's files: <root>/volumes/NAME/_data. */
function mountpointName(path: string): string | undefined {
  const m = /\/volumes\/([^/]+)\/_data$/.exec(path);
  return m?.[1];
}

/** The volumes a snapshot holds: name -> its path in the snapshot (from the volume:NAME tags, the record, and mountpoint-shaped paths). */
function volumesOfSnapshot(snapshot: { paths: string[]; tags: string[] }, record: InspectRecord | null): Map<string, string> {
  const out = new Map<string, string>();
  for (const v of record?.volumes ?? []) if (snapshot.paths.includes(v.path)) out.set(v.name, v.path);
  const tagged = snapshot.tags.filter((t) => t.startsWith(VOLUME_PREFIX)).map((t) => t.slice(VOLUME_PREFIX.length));
  for (const p of snapshot.paths) {
    const name = mountpointName(p);
    if (name !== undefined && !out.has(name)) out.set(name, p);
  }
  // A tagged volume whose mountpoint does not have the usual shape: only when it is the one path.
  const unmatched = tagged.filter((n) => !out.has(n));
  if (unmatched.length === 1 && snapshot.paths.length === 1 && out.size === 0) out.set(unmatched[0] as string, snapshot.paths[0] as string);
  return out;
}

interface Present {
  st: BigIntStats;
  target?: string;
}

/** Everything below `root` (as /rel), never following symlinks. */
async function listVolume(root: string): Promise<Map<string, Present>> {
  const out = new Map<string, Present>();
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name);
      const r = `${rel}/${name}`;
      const st = await lstat(path, { bigint: true });
      out.set(r, st.isSymbolicLink() ? { st, target: await readlink(path) } : { st });
      if (st.isDirectory()) await walk(path, r);
    }
  };
  await walk(root, '');
  return out;
}

function typeOf(st: BigIntStats): string {
  return nodeType(st) ?? 'unknown';
}

/** Volume trees keep mtimes to the second (SPEC 6.1): a restored file's exact sub-second part is no change. */
function sameSecond(haveNs: bigint, wantNs: string): boolean {
  const s = (ns: bigint) => (ns >= 0n ? ns / 1_000_000_000n : (ns - 999_999_999n) / 1_000_000_000n);
  return s(haveNs) === s(BigInt(wantNs));
}

/** What restoring `want` (snapshot entries below the volume, keyed /rel) over `have` changes. */
function planChanges(want: Map<string, LsEntry>, have: Map<string, Present>): VolumeRestoreResult['changes'] & { typeChanged: string[] } {
  const created: string[] = [];
  const replaced: string[] = [];
  const deleted: string[] = [];
  const typeChanged: string[] = [];
  for (const [rel, e] of want) {
    const h = have.get(rel);
    if (!h) {
      created.push(rel);
      continue;
    }
    if (typeOf(h.st) !== e.type) {
      replaced.push(rel);
      typeChanged.push(rel);
      continue;
    }
    const meta = (h.st.mode & 0o7777n) !== BigInt(e.mode & 0o7777) || Number(h.st.uid) !== e.uid || Number(h.st.gid) !== e.gid;
    if (e.type === 'dir') {
      if (meta) replaced.push(rel);
    } else if (
      meta ||
      !sameSecond(h.st.mtimeNs, e.mtimeNs) ||
      (e.type === 'file' && Number(h.st.size) !== e.size) ||
      (e.type === 'symlink' && h.target !== e.target)
    ) {
      replaced.push(rel);
    }
  }
  for (const rel of have.keys()) if (!want.has(rel)) deleted.push(rel);
  return { created, replaced, deleted, typeChanged };
}

/** Removes `paths` (and what is below them) under root, parents first so nothing is removed twice. */
async function removeBelow(root: string, paths: string[]): Promise<void> {
  const sorted = [...paths].sort();
  let last: string | undefined;
  for (const rel of sorted) {
    if (last !== undefined && rel.startsWith(`${last}/`)) continue;
    last = rel;
    // rm never follows a symlink: a link is removed, not what it points to.
    await rm(join(root, rel), { recursive: true, force: true });
  }
}

/**
 * Restores the one volume a snapshot holds into Docker volume `args.volume`: a missing volume is
 * created; an existing one is replaced only with `force` (its containers stopped and started again
 * around it), and afterwards holds exactly the snapshot's files (extra files are deleted).
 */
export async function volumeRestoreOp(
  svc: RepoDeps & ClockDeps & HomeDeps & MaybeMeshDeps,
  args: VolumeRestoreArgs,
  onStart?: (r: Restorer, totals: RestoreTotals) => void,
  onLog?: HookLogger,
  signal?: AbortSignal,
): Promise<VolumeRestoreResult> {
  if (!args.volume) throw new UsageError('--to-volume needs a volume name');
  const { id, snapshot } = await svc.repo.resolveSnapshot(args.snapshot);
  const record = await readInspectRecord(svc, id, snapshot);
  const held = volumesOfSnapshot(snapshot, record);
  const listing = [...held.keys()].sort().join(', ');
  let fromVolume: string;
  if (args.fromVolume !== undefined) {
    if (!held.has(args.fromVolume))
      throw new UsageError(`snapshot ${id.slice(0, 8)} does not hold volume ${args.fromVolume}; it holds: ${listing || 'no volume'}`, 'E_NO_VOLUME');
    fromVolume = args.fromVolume;
  } else if (held.size === 1) fromVolume = [...held.keys()][0] as string;
  else if (held.size === 0)
    throw new UsageError(
      `snapshot ${id.slice(0, 8)} holds no Docker volume (paths: ${snapshot.paths.join(', ')}); use "cairn restore --target DIR"`,
      'E_NO_VOLUME',
    );
  else throw new UsageError(`snapshot ${id.slice(0, 8)} holds ${held.size} volumes (${listing}): choose one with --from-volume NAME`, 'E_NO_VOLUME');
  const from = held.get(fromVolume) as string;
  const usageRecord = record?.volumes.find((v) => v.name === fromVolume);
  const usage = usageRecord ? usageOf(usageRecord) : null;

  const docker = await connectDocker();
  const log: HookLogEntry[] = [];
  const hooks = new Hooks(docker, svc.home, svc.clock, (e) => {
    log.push(e);
    onLog?.(e);
  });
  await hooks.recoverStopped();
  const existing = (await discoverVolumes(docker)).find((v) => v.name === args.volume);
  if (existing && !args.force && !args.dryRun) {
    const users = existing.containers.map((c) => c.name);
    throw new UsageError(
      `volume ${args.volume} exists${users.length ? ` (mounted by ${users.join(', ')})` : ''}: use --force to replace its content with the snapshot's, or --dry-run to see what would change`,
      'E_VOLUME_EXISTS',
    );
  }
  const stopped = (existing?.containers ?? []).filter((c) => c.state === 'running' || c.state === 'paused').map((c) => c.name);

  // The snapshot's entries below the volume directory, keyed /rel (the directory itself is "").
  const want = new Map<string, LsEntry>();
  const prefix = from.replace(/\/+$/, '');
  for (const e of await lsOp(svc, { snapshot: id, path: from })) {
    if (e.path === prefix) continue;
    if (!e.path.startsWith(`${prefix}/`)) continue;
    want.set(e.path.slice(prefix.length), e);
  }

  const base = { snapshot: id, volume: args.volume, fromVolume, from, dryRun: args.dryRun, stopped, usage };
  if (args.dryRun) {
    const have = existing ? await listVolume(await checkedMountpoint(existing.mountpoint, args.volume)) : new Map<string, Present>();
    const { created, replaced, deleted } = planChanges(want, have);
    return {
      ...base,
      mountpoint: existing?.mountpoint ?? null,
      createdVolume: !existing,
      changes: { created, replaced, deleted },
      files: 0,
      bytes: 0,
      errors: [],
      warnings: [],
      log,
    };
  }

  let mountpoint: string;
  if (!existing) {
    await docker.createVolume({ Name: args.volume, Labels: { 'cairn.restored-from': `${id}:${fromVolume}` } });
    mountpoint = await checkedMountpoint((await docker.getVolume(args.volume).inspect()).Mountpoint, args.volume);
  } else mountpoint = await checkedMountpoint(existing.mountpoint, args.volume);

  let changes: VolumeRestoreResult['changes'] = { created: [], replaced: [], deleted: [] };
  let restored: Awaited<ReturnType<typeof restoreOp>> | undefined;
  const run = async (): Promise<void> => {
    // With the containers down: remove what the snapshot does not have (and entries of another
    // type), then restore over the rest, so the volume ends up equal to the snapshot.
    const plan = planChanges(want, await listVolume(mountpoint));
    changes = { created: plan.created, replaced: plan.replaced, deleted: plan.deleted };
    await removeBelow(mountpoint, [...plan.deleted, ...plan.typeChanged]);
    restored = await restoreOp(svc, { snapshot: id, target: mountpoint, include: [], overwrite: true, from }, onStart, signal);
  };
  if (existing) await hooks.around([existing], run, 'restore');
  else {
    try {
      await run();
    } catch (err) {
      // A volume this restore created and could not fill is removed again, so a retry needs no --force.
      await docker
        .getVolume(args.volume)
        .remove()
        .catch(() => undefined);
      throw err;
    }
  }
  const r = restored as NonNullable<typeof restored>;
  return { ...base, mountpoint, createdVolume: !existing, changes, files: r.files, bytes: r.bytes, errors: r.errors, warnings: r.warnings, log };
}

/** A volume's mountpoint, which must be a directory the agent can write. */
async function checkedMountpoint(path: string, name: string): Promise<string> {
  const p = resolve(path);
  try {
    if (p === '/' || !(await stat(p)).isDirectory()) throw new Error('not a directory');
    await access(p, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new CairnError(
      'E_VOLUME_UNREADABLE',
      `volume ${name}: its mountpoint ${p} is not writable here (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); mount /var/lib/docker/volumes into the agent`,
    );
  }
  return p;
}
