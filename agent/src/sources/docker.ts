// The Docker Engine, through its API (dockerode): where it is, and what volumes it holds and which
// containers mount them. The engine is found at DOCKER_HOST (unix:// or tcp://) or else at
// /var/run/docker.sock; when it does not answer, DockerUnavailableError says what was tried.
import Docker from 'dockerode';
import type { VolumeContainer, VolumeListing } from '../../../protocol/api.js';
import { CairnError } from '../util/errors.js';

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

/** Container labels that configure Cairn. */
export const LABEL_STOP = 'cairn.stop';
export const LABEL_PAUSE = 'cairn.pause';
export const LABEL_EXEC_BEFORE = 'cairn.exec.before';
export const LABEL_EXEC_AFTER = 'cairn.exec.after';
/** How long an exec hook may run ("90s", "5m"; default 5 minutes). */
export const LABEL_EXEC_TIMEOUT = 'cairn.exec.timeout';
/** Labels of offen/docker-volume-backup that mean the same; the cairn.* label wins when both are set. */
export const OFFEN_ALIASES: Record<string, string> = {
  'docker-volume-backup.stop-during-backup': LABEL_STOP,
  'docker-volume-backup.archive-pre': LABEL_EXEC_BEFORE,
  'docker-volume-backup.archive-post': LABEL_EXEC_AFTER,
};

export class DockerUnavailableError extends CairnError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_DOCKER_UNAVAILABLE', message, undefined, options);
    this.name = 'DockerUnavailableError';
  }
}

export interface DockerEndpoint {
  /** What was tried, for messages: "unix:///var/run/docker.sock (DOCKER_HOST is not set)". */
  describe: string;
  options: Docker.DockerOptions;
}

/** Where the engine should be, from DOCKER_HOST or the default socket. */
export function dockerEndpoint(env: NodeJS.ProcessEnv = process.env): DockerEndpoint {
  const host = env.DOCKER_HOST?.trim();
  if (!host) return { describe: `unix://${DEFAULT_DOCKER_SOCKET} (DOCKER_HOST is not set)`, options: { socketPath: DEFAULT_DOCKER_SOCKET } };
  if (host.startsWith('unix://')) {
    const socketPath = host.slice('unix://'.length) || DEFAULT_DOCKER_SOCKET;
    return { describe: `unix://${socketPath} (from DOCKER_HOST)`, options: { socketPath } };
  }
  const m = /^(?:tcp|http):\/\/\[?([^\]/]+?)\]?:(\d+)\/?$/.exec(host);
  if (m) return { describe: `${host} (from DOCKER_HOST)`, options: { host: m[1] as string, port: Number(m[2]), protocol: 'http' } };
  throw new DockerUnavailableError(`DOCKER_HOST="${host}" is not understood: use unix:///path/to/docker.sock or tcp://host:port`);
}

/** A client for the engine that answered a ping, or DockerUnavailableError. */
export async function connectDocker(env: NodeJS.ProcessEnv = process.env): Promise<Docker> {
  const endpoint = dockerEndpoint(env);
  const docker = new Docker({ ...endpoint.options, timeout: 30_000 });
  try {
    await docker.ping();
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { statusCode?: number };
    const why =
      e.code === 'ENOENT'
        ? 'no such socket'
        : e.code === 'EACCES'
          ? 'permission denied on the socket'
          : (e.code ?? (e.statusCode ? `HTTP ${e.statusCode}` : e.message));
    throw new DockerUnavailableError(
      `the Docker engine is not reachable at ${endpoint.describe}: ${why}; set DOCKER_HOST or mount the socket (directory backups do not need Docker)`,
      { cause: err },
    );
  }
  return docker;
}

/** The labels of a container that configure Cairn, offen/docker-volume-backup aliases folded in. */
export function cairnLabels(labels: Record<string, string> | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels ?? {})) {
    const alias = OFFEN_ALIASES[k];
    if (alias && !(alias in (labels ?? {}))) out[alias] = v;
    else if (k.startsWith('cairn.')) out[k] = v;
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

export function labelTrue(v: string | undefined): boolean {
  return v !== undefined && ['true', '1', 'yes', 'on'].includes(v.trim().toLowerCase());
}

export type DiscoveredVolume = Omit<VolumeListing, 'lastSnapshot'>;

/** Every volume with its size (when the engine reports it) and the containers that mount it, sorted by name. */
export async function discoverVolumes(docker: Docker): Promise<DiscoveredVolume[]> {
  const [list, containers, df] = await Promise.all([
    docker.listVolumes(),
    docker.listContainers({ all: true }),
    // `docker system df -v`: volume sizes; can be slow on big volumes, and some engines refuse it.
    (docker.df() as Promise<{ Volumes?: Docker.VolumeInspectInfo[] | null }>).catch(() => ({ Volumes: null })),
  ]);
  const sizes = new Map<string, number>();
  for (const v of df.Volumes ?? []) if (v.UsageData && v.UsageData.Size >= 0) sizes.set(v.Name, v.UsageData.Size);
  const mounts = new Map<string, VolumeContainer[]>();
  for (const c of containers) {
    for (const m of c.Mounts ?? []) {
      if (m.Type !== 'volume' || !m.Name) continue;
      const entry: VolumeContainer = {
        id: c.Id,
        name: (c.Names?.[0] ?? c.Id.slice(0, 12)).replace(/^\//, ''),
        state: c.State,
        image: c.Image,
        destination: m.Destination,
        rw: m.RW,
        labels: cairnLabels(c.Labels),
      };
      mounts.set(m.Name, [...(mounts.get(m.Name) ?? []), entry]);
    }
  }
  return (list.Volumes ?? [])
    .map((v) => ({
      name: v.Name,
      driver: v.Driver,
      mountpoint: v.Mountpoint,
      labels: v.Labels ?? {},
      sizeBytes: sizes.get(v.Name) ?? (v.UsageData && v.UsageData.Size >= 0 ? v.UsageData.Size : null),
      containers: (mounts.get(v.Name) ?? []).sort((a, b) => a.name.localeCompare(b.name)),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Volumes a label selector ("key" or "key=value") picks: by the volume's own labels or its containers' cairn.* labels. */
export function selectVolumes(volumes: DiscoveredVolume[], selectors: string[]): string[] {
  const matches = (labels: Record<string, string>, sel: string) => {
    const i = sel.indexOf('=');
    return i < 0 ? sel in labels : labels[sel.slice(0, i)] === sel.slice(i + 1);
  };
  return volumes.filter((v) => selectors.some((sel) => matches(v.labels, sel) || v.containers.some((c) => matches(c.labels, sel)))).map((v) => v.name);
}
