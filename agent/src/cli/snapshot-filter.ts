// The options that narrow snapshots, as restic spells them (--source is Cairn's configured
// sources), and restic's SNAP:subpath form of a snapshot argument.
import type { Command } from 'commander';
import type { SnapshotFilter } from '../../../protocol/api.js';

export interface FilterCliOptions {
  source?: string;
  path?: string[];
  tag?: string[];
  host?: string;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** Adds --source, --path, --tag and --host to `cmd`. */
export function withFilterOptions(cmd: Command): Command {
  return cmd
    .option('--source <name>', 'only snapshots of this configured source')
    .option('--path <path>', 'only snapshots of exactly these paths (repeatable)', collect)
    .option('--tag <tags>', 'only snapshots with these tags: comma-separated tags all present; repeat for alternatives', collect)
    .option('--host <name>', 'only snapshots made on this host');
}

export function filterOf(o: FilterCliOptions): SnapshotFilter | undefined {
  const f: SnapshotFilter = {
    ...(o.source !== undefined ? { source: o.source } : {}),
    ...(o.path?.length ? { paths: o.path } : {}),
    ...(o.tag?.length ? { tags: o.tag } : {}),
    ...(o.host !== undefined ? { host: o.host } : {}),
  };
  return Object.keys(f).length > 0 ? f : undefined;
}

/** `latest:/srv/data` or `3f2a9c1b:/srv/data` -> the snapshot and the path inside it; otherwise the argument alone. */
export function splitSubpath(arg: string): { snapshot: string; subpath?: string } {
  const m = /^(latest|[0-9a-f]{8,64}):(.*)$/.exec(arg);
  return m ? { snapshot: m[1] as string, subpath: m[2] as string } : { snapshot: arg };
}
