// Reading a Docker volume without seeing its mountpoint: a helper container that mounts the volume
// read-only at /v is created (never started: the engine serves archives of created containers,
// their volume mounts included), GET /containers/ID/archive?path=/v streams an uncompressed tar,
// and parseVolumeTar turns it into VolumeEntry values, refusing names that could escape the volume.
// The helper container is always removed, also when the read fails or is abandoned; one left by a
// killed process is removed by the next helper read of the same Cairn home.
//
// Its image: cairn-volume-helper:empty, an empty image made once by importing an empty tar
// (POST /images/create?fromSrc=-), labelled cairn.helper=volume-read. No registry is needed and
// nothing in it ever runs.
import { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { displayName, fromBytes } from '../util/byte-names.js';
import { CairnError } from '../util/errors.js';
import { readTar } from './tar-reader.js';
import type { VolumeEntry } from '../snapshot/volume-archiver.js';

export const HELPER_IMAGE = 'cairn-volume-helper:empty';
export const HELPER_LABEL = 'cairn.helper';
const HELPER_LABEL_VALUE = 'volume-read';
/** Where the helper mounts the volume; also the top directory of the archive's names. */
const MOUNT_DIR = 'v';
/** The helper's command: never run (the container is only created). */
const NEVER_RUN = ['/cairn-helper-is-never-started'];

export class UnsafeArchiveError extends CairnError {
  constructor(message: string) {
    super('E_VOLUME_ARCHIVE', message);
    this.name = 'UnsafeArchiveError';
  }
}

/** Makes the empty helper image unless the engine has it. */
export async function ensureHelperImage(docker: Docker): Promise<void> {
  try {
    await docker.getImage(HELPER_IMAGE).inspect();
    return;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 404) throw err;
  }
  const [repo, tag] = HELPER_IMAGE.split(':') as [string, string];
  // An empty tar: two zero blocks.
  const stream = (await docker.importImage(
    Readable.from([Buffer.alloc(1024)]) as unknown as string,
    { repo, tag, changes: [`LABEL ${HELPER_LABEL}=${HELPER_LABEL_VALUE}`] } as object,
  )) as NodeJS.ReadableStream;
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, out: Array<{ error?: string }>) => {
      const failed = out?.find((o) => o.error);
      if (err || failed) reject(new CairnError('E_DOCKER', `cannot create the helper image ${HELPER_IMAGE}: ${err?.message ?? failed?.error}`));
      else resolve();
    });
  });
}

/**
 * Helper containers a killed process of this home left behind (labelled with the home): removed
 * before a new one is made. The home's lock means no other process of it is reading right now.
 */
async function removeLeftovers(docker: Docker, owner: string): Promise<void> {
  const left = await docker.listContainers({ all: true, filters: { label: [`${HELPER_LABEL}=${HELPER_LABEL_VALUE}`, `${HELPER_OWNER_LABEL}=${owner}`] } });
  for (const c of left)
    await docker
      .getContainer(c.Id)
      .remove({ force: true })
      .catch(() => undefined);
}

/** Labels the helper container with the Cairn home that made it. */
const HELPER_OWNER_LABEL = 'cairn.helper.home';

/** The volume's entries as the engine archives them through a helper container; `owner` (the Cairn home) labels it. */
export async function* helperEntries(docker: Docker, volume: string, owner: string): AsyncGenerator<VolumeEntry> {
  await ensureHelperImage(docker);
  await removeLeftovers(docker, owner);
  const container = await docker.createContainer({
    Image: HELPER_IMAGE,
    Cmd: NEVER_RUN,
    Labels: { [HELPER_LABEL]: HELPER_LABEL_VALUE, [HELPER_OWNER_LABEL]: owner, 'cairn.helper.volume': volume },
    NetworkDisabled: true,
    HostConfig: { Mounts: [{ Type: 'volume', Source: volume, Target: `/${MOUNT_DIR}`, ReadOnly: true }], NetworkMode: 'none' },
  });
  let stream: NodeJS.ReadableStream | undefined;
  try {
    stream = (await container.getArchive({ path: `/${MOUNT_DIR}` })) as NodeJS.ReadableStream;
    yield* parseVolumeTar(stream as Readable, MOUNT_DIR, `volume ${volume} (helper container)`);
  } finally {
    (stream as Readable | undefined)?.destroy?.();
    await container.remove({ force: true }).catch(() => undefined);
  }
}

/** The name below the top directory `top`, '' for the top itself; throws on anything that could leave it. */
export function archiveRel(name: string, top: string, where: string): string {
  const refuse = (why: string) => new UnsafeArchiveError(`${where}: refusing tar entry ${JSON.stringify(displayName(name))}: ${why}`);
  if (name.startsWith('/')) throw refuse('absolute name');
  if (name.includes('\0')) throw refuse('NUL in the name');
  const parts = name.replace(/\/+$/, '').split('/');
  if (parts.includes('..')) throw refuse('".." in the name');
  if (parts.some((p) => p === '' || p === '.')) throw refuse('empty or "." component');
  if (parts[0] !== top) throw refuse(`outside the volume's directory ${top}/`);
  return parts.slice(1).join('/');
}

/** Linux makedev. */
function makedev(major: number, minor: number): number {
  return (minor & 0xff) + (major & 0xfff) * 256 + (minor & ~0xff) * 4096 + Math.floor(major / 4096) * 2 ** 32;
}

/**
 * An uncompressed tar of one directory `top` (names "top/...") as VolumeEntry values. Each entry's
 * data is consumed or skipped before the next. Names, hardlink names and symlink targets are the
 * archive's exact bytes (tar-reader.ts), in the same byte-name strings the mountpoint path makes
 * (util/byte-names.ts), so both paths give the same tree for the same volume.
 */
export async function* parseVolumeTar(input: AsyncIterable<Uint8Array>, top: string, where: string): AsyncGenerator<VolumeEntry> {
  for await (const { header: h, data } of readTar(input, where)) {
    const rel = archiveRel(fromBytes(h.name), top, where);
    const type: VolumeEntry['type'] | undefined = h.type;
    if (!type)
      throw new UnsafeArchiveError(`${where}: tar entry ${JSON.stringify(displayName(fromBytes(h.name)))} has unsupported type ${JSON.stringify(h.typeflag)}`);
    const e: VolumeEntry = { rel, type, mode: h.mode & 0o7777, uid: h.uid, gid: h.gid, mtimeSec: h.mtimeSec, size: h.size };
    if (type === 'link') e.linkTo = archiveRel(fromBytes(h.linkname), top, where);
    if (type === 'symlink') e.target = fromBytes(h.linkname);
    if (type === 'chardev' || type === 'blockdev') e.rdev = makedev(h.devmajor, h.devminor);
    if (type === 'file') e.data = data;
    yield e;
  }
}
