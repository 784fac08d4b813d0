// The containers mounting a volume, as recorded with each volume backup (SPEC 7 `meta`) and shown as
// its usage. Here with the other Docker code, so dockerode stays in sources/.
import type Docker from 'dockerode';
import type { VolumeUsage } from '../../../protocol/api.js';
import type { SnapshotMeta } from '../../../protocol/snapshot.js';
import type { DiscoveredVolume } from './docker.js';

type InspectRecord = Required<SnapshotMeta>;

/** A volume being backed up: the discovered volume, its path in the snapshot, and how it is read. */
export interface InspectedSource {
  volume: DiscoveredVolume;
  path: string;
  via: 'mountpoint' | 'helper';
}

/** The full `docker inspect` of the containers mounting each volume (gone since discovery: left out). */
export async function inspectUsers(docker: Docker, sources: InspectedSource[]): Promise<InspectRecord['volumes']> {
  const out: InspectRecord['volumes'] = [];
  for (const s of sources) {
    const containers: Docker.ContainerInspectInfo[] = [];
    for (const c of s.volume.containers) {
      try {
        containers.push(await docker.getContainer(c.id).inspect());
      } catch (err) {
        // Removed since discovery: nothing to keep.
        if ((err as { statusCode?: number }).statusCode !== 404) throw err;
      }
    }
    out.push({ name: s.volume.name, path: s.path, via: s.via, containers });
  }
  return out;
}

/** Who uses a volume, from its inspect record: container, image, state and where it is mounted. */
export function usageOf(v: InspectRecord['volumes'][number]): VolumeUsage {
  return {
    volume: v.name,
    containers: (v.containers as Docker.ContainerInspectInfo[]).map((c) => {
      const m = (c.Mounts ?? []).find((x) => x.Type === 'volume' && x.Name === v.name);
      return {
        name: c.Name.replace(/^\//, ''),
        image: c.Config?.Image ?? c.Image,
        state: c.State?.Status ?? '?',
        destination: m?.Destination ?? '?',
        rw: m?.RW ?? false,
      };
    }),
  };
}
