// Docker volumes as sources: `cairn volumes` (discovery with each volume's last snapshot) and
// `cairn backup volume:NAME...` (through the volume's mountpoint, with the consistency hooks of the
// containers that mount it). A snapshot of volume NAME is tagged `volume:NAME`.
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { BackupResult, VolumeBackupArgs, VolumeBackupResult, VolumesResult } from '../../../protocol/api.js';
import type { Archiver } from '../snapshot/archiver.js';
import { connectDocker, discoverVolumes, type DiscoveredVolume } from '../sources/docker.js';
import { Hooks, HookFailedError, type HookLogger } from '../sources/hooks.js';
import { CairnError, UsageError } from '../util/errors.js';
import { backupOp } from './backup.js';
import type { Services } from './services.js';

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

export async function volumesOp(svc: Services): Promise<VolumesResult> {
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
  path: string;
  via: 'mountpoint';
}

/** Where each named volume can be read. Unknown volumes are a usage error; unreadable mountpoints fail clearly. */
export async function resolveVolumeSources(all: DiscoveredVolume[], names: string[]): Promise<VolumeSource[]> {
  const byName = new Map(all.map((v) => [v.name, v]));
  const missing = names.filter((n) => !byName.has(n));
  if (missing.length > 0) throw new UsageError(`no such Docker volume: ${missing.join(', ')} (see "cairn volumes")`, 'E_NO_VOLUME');
  const out: VolumeSource[] = [];
  for (const name of names) {
    const volume = byName.get(name) as DiscoveredVolume;
    const path = resolve(volume.mountpoint);
    try {
      if (!(await stat(path)).isDirectory()) throw new Error('not a directory');
      await access(path, constants.R_OK | constants.X_OK);
    } catch (err) {
      // The helper-container path (a read-only mount streamed as tar through the API) is not built yet.
      throw new CairnError(
        'E_VOLUME_UNREADABLE',
        `volume ${name}: its mountpoint ${path} is not readable here (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); ` +
          'mount /var/lib/docker/volumes into the agent (reading through a helper container is not supported yet)',
      );
    }
    out.push({ volume, path, via: 'mountpoint' });
  }
  return out;
}

/**
 * One snapshot of the volumes' mountpoints (plus any plain paths), tagged `volume:NAME` for each
 * volume, with the containers that mount them stopped / paused / exec'd per their labels.
 */
export async function volumeBackupOp(svc: Services, args: VolumeBackupArgs, onStart?: (a: Archiver) => void, onLog?: HookLogger): Promise<VolumeBackupResult> {
  if (args.volumes.length === 0) throw new UsageError('no volumes given: use "cairn backup volume:NAME"');
  const docker = await connectDocker();
  const hooks = new Hooks(docker, svc.home, svc.clock, onLog);
  // Containers an interrupted backup left stopped or paused run again before anything else.
  await hooks.recoverStopped();
  const discovered = await discoverVolumes(docker);
  const sources = await resolveVolumeSources(discovered, args.volumes);
  const tags = [...new Set([...args.tags, ...args.volumes.map(volumeTag)])];
  const paths = [...args.paths.map((p) => resolve(p)), ...sources.map((s) => s.path)];
  let result: BackupResult | undefined;
  try {
    await hooks.around(
      sources.map((s) => s.volume),
      async () => {
        result = await backupOp(svc, { paths, tags }, onStart);
      },
    );
  } catch (err) {
    if (result && err instanceof HookFailedError) {
      throw new HookFailedError(`${err.message} (snapshot ${result.shortId} was saved)`, err.commandExitCode, err.output);
    }
    throw err;
  }
  return { ...(result as BackupResult), volumes: sources.map((s) => ({ name: s.volume.name, path: s.path, via: s.via })), log: hooks.log };
}
