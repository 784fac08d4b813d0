// The agent's operations as the CLI, the HTTP API and the console see them: names, arguments and
// results, defined once. Each operation is POST /api/v1/ops/<name> with a JSON body of its args.
import { VOLUME_READ_MODES, type CairnConfig, type ConsistencyOverride, type RetentionPolicy, type VolumeReadMode } from './config.js';
import type { SnapshotListing, SnapshotSummary } from './snapshot.js';

export const API_PREFIX = '/api/v1';
/** Header carrying the API token for scripts and the CLI. */
export const API_TOKEN_HEADER = 'x-cairn-token';

export interface BackupArgs {
  paths: string[];
  tags: string[];
  /** A configured source name: the parent is that source's latest snapshot, and the snapshot records it. */
  source?: string;
  /** Exclude patterns (SPEC "Excludes"): globs on names, or on whole paths when they start with "/". */
  exclude?: string[];
  /** Do not cross into other file systems below the paths (restic's --one-file-system); mountpoints stay as empty directories. */
  oneFileSystem?: boolean;
  /** Write nothing (restic's --dry-run): the result says what would be stored; `id` is "". */
  dryRun?: boolean;
}
/**
 * `cairn backup --stdin [--stdin-filename NAME]` (restic's): one file, NAME, made of the request body
 * (POST /api/v1/backup-stdin?filename=NAME&tag=T..., application/octet-stream, streamed).
 */
export interface StdinBackupArgs {
  filename: string;
  tags: string[];
}
export interface BackupResult extends SnapshotSummary {
  id: string;
  shortId: string;
  time: string;
  paths: string[];
  tags: string[];
  parent: string | null;
  /** Entries skipped because they could not be read. */
  unreadable: number;
  /** A dry run: nothing was written; `addedBytes` is what would be added, before compression and encryption. */
  dryRun?: boolean;
  /** The snapshot's metadata blob (SPEC 7 `meta`; volume backups: the docker inspect record), if it has one. */
  meta?: string;
}

/**
 * Narrows snapshots, as restic's --host/--path/--tag do: a snapshot matches when every given field
 * matches. `paths`: the snapshot was taken of exactly these paths (absolute; order does not matter);
 * `tags`: each entry is a comma-separated group, and a snapshot matches when it carries every tag of
 * at least one group (`--tag a,b --tag c` = a and b, or c).
 */
export interface SnapshotFilter {
  source?: string;
  paths?: string[];
  tags?: string[];
  host?: string;
}
export interface SnapshotsArgs {
  filter?: SnapshotFilter;
  /** Only the newest N snapshots of each group (source, or host and paths for ad-hoc ones). */
  latest?: number;
}
export type SnapshotsResult = SnapshotListing[];

// ---- Retention: forget, pin, unpin (SPEC.md "Retention") ----------------------------------------

export interface ForgetArgs {
  /** The policy for every group; absent: each source's configured retention (cairn.yaml). */
  policy?: RetentionPolicy;
  /** Only the snapshots of this configured source. */
  source?: string;
  /** Decide and report, remove nothing. */
  dryRun: boolean;
  /** IANA zone for calendar buckets; default: the agent's local zone. */
  timeZone?: string;
}
export interface ForgetSnapshot {
  id: string;
  shortId: string;
  time: string;
  tags: string[];
  pinned: boolean;
  keep: boolean;
  /** Every rule that keeps it ("daily 3 of 7", "within 2d", "tag release", "pinned", "latest"); empty when removed. */
  reasons: string[];
}
export interface ForgetGroup {
  source?: string;
  /** For ad-hoc snapshots (no source): the path set that groups them. */
  paths?: string[];
  /** The policy applied, readable ("keep 7 daily, 4 weekly"). */
  policy: string;
  /** Newest first. */
  snapshots: ForgetSnapshot[];
}
export interface ForgetResult {
  dryRun: boolean;
  timeZone: string;
  groups: ForgetGroup[];
  kept: number;
  /** Snapshots removed (or, with dryRun, that would be). */
  removed: number;
  removedIds: string[];
}

export interface PinArgs {
  snapshot: string;
}
export interface PinResult {
  id: string;
  shortId: string;
  pinned: boolean;
  /** When it was pinned (pin), or null (unpin). */
  pinnedAt: string | null;
  /** Nothing changed: it already was pinned (pin) or was not pinned (unpin). */
  unchanged: boolean;
}

/**
 * `cairn tag` (restic's tag): change the tags of the snapshots named (IDs, prefixes, "latest"), or
 * of every snapshot `filter` matches when none is named. Each list entry may hold several
 * comma-separated tags. `set` replaces the tags; `add` and `remove` change them (not with `set`).
 * A changed snapshot is a new snapshot blob with a new ID (SPEC 7 `original`).
 */
export interface TagArgs {
  snapshots: string[];
  filter?: SnapshotFilter;
  add?: string[];
  remove?: string[];
  set?: string[];
}
export interface TagResult {
  /** The snapshots whose tags changed: old ID, new ID, the new tags. */
  changed: Array<{ from: string; id: string; shortId: string; tags: string[] }>;
  /** Snapshots that already had the tags asked for. */
  unchanged: number;
}

export interface LsArgs {
  snapshot: string;
  path?: string;
}
export interface LsEntry {
  path: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: string;
  mtimeNs: string;
  target?: string;
}
export type LsResult = LsEntry[];

/**
 * One folder of a snapshot, a page at a time (the console's browser): the folder's own entries
 * (not below them) in the tree's order (by name), from `offset`, at most `limit` of them.
 * Snapshots never change, so an offset is a stable cursor.
 */
export interface BrowseArgs {
  snapshot: string;
  /** The folder, absolute as in the snapshot ("/" or absent: the snapshot's root); ".." is refused. */
  path?: string;
  offset?: number;
  /** At most BROWSE_PAGE_MAX_ENTRIES; default BROWSE_PAGE_DEFAULT_ENTRIES. */
  limit?: number;
}
export interface BrowseResult {
  snapshot: SnapshotListing;
  /** The folder, normalised: "/" or "/a/b". */
  path: string;
  /** Entries in the whole folder. */
  total: number;
  offset: number;
  entries: LsEntry[];
}
/** Most entries one browse page holds (larger folders take several pages). */
export const BROWSE_PAGE_MAX_ENTRIES = 1000;
/** A browse page's entries when the request names no limit. */
export const BROWSE_PAGE_DEFAULT_ENTRIES = 200;
/** Largest browse offset the API takes (far beyond any real folder). */
export const BROWSE_MAX_OFFSET = 100_000_000;

/**
 * `find PATTERN...` across snapshots (restic's find). A pattern is a glob: starting with "/" it
 * matches the whole path, with a "/" inside the end of the path, otherwise the entry's name (as
 * backup excludes do).
 */
export interface FindArgs {
  patterns: string[];
  ignoreCase?: boolean;
  filter?: SnapshotFilter;
}
export interface FindResult {
  /** Snapshots with at least one match, oldest first. */
  snapshots: Array<{ id: string; shortId: string; time: string; matches: LsEntry[] }>;
  /** Snapshots searched. */
  searched: number;
  /** More matches than FIND_MAX_MATCHES: the rest were not listed. */
  truncated: boolean;
}
/** `stats` (restic's stats): what the snapshots hold and what the repository stores for them. */
export interface StatsArgs {
  filter?: SnapshotFilter;
}
export interface StatsResult {
  /** Snapshots counted (those the filter matches). */
  snapshots: number;
  /** What restoring every counted snapshot would write: their files and bytes added up (restic's restore-size). */
  restoreSize: { files: number; bytes: number };
  /** The whole repository, whatever the filter: unique blobs, their bytes before and after compression and encryption. */
  stored: { dataBlobs: number; treeBlobs: number; rawBytes: number; storedBytes: number; packs: number; packBytes: number };
  /** Restore size over the unique data's raw bytes (null when nothing is stored). */
  dedupRatio: number | null;
  /** Raw bytes over stored bytes (null when nothing is stored). */
  compressionRatio: number | null;
}

/** Matches one find lists at most (over all snapshots). */
export const FIND_MAX_MATCHES = 10_000;

export interface DiffArgs {
  from: string;
  to: string;
}
export interface DiffResult {
  from: string;
  to: string;
  changes: Array<{ kind: '+' | '-' | 'M' | 'T' | 'm'; path: string; type: string }>;
}

export interface RestoreArgs {
  /** An ID, a unique prefix, or "latest" (the newest snapshot that `filter` matches). */
  snapshot: string;
  filter?: SnapshotFilter;
  target: string;
  include: string[];
  overwrite: boolean;
  /** Restore the contents of this directory of the snapshot directly into target (e.g. a volume). */
  from?: string;
  /** Leave out what these globs match, with everything below (the rule of backup excludes, on the path in the snapshot). */
  exclude?: string[];
  /** Write nothing: list what would be restored (`entries`, at most RESTORE_DRY_RUN_MAX_LISTED). */
  dryRun?: boolean;
  /** Read every restored file back and compare it with the snapshot's content IDs (restic's --verify). */
  verify?: boolean;
}

/** Entries a restore --dry-run lists at most (the counts cover all). */
export const RESTORE_DRY_RUN_MAX_LISTED = 10_000;
export interface RestoreResult {
  snapshot: string;
  target: string;
  files: number;
  bytes: number;
  errors: string[];
  warnings: string[];
  /** Packs fetched from friends during this restore, by friend name. */
  fetched: Record<string, number>;
  /** A dry run: nothing was written; `files` and `bytes` are what would be. */
  dryRun?: boolean;
  /** Dry run: what would be restored (path in the target, type, size), the first RESTORE_DRY_RUN_MAX_LISTED. */
  entries?: Array<{ path: string; type: string; size: number }>;
  truncated?: boolean;
  /** --verify: files read back and found as the snapshot has them (a file that is not is in `errors`). */
  verified?: number;
}

export interface CheckArgs {
  readData: boolean;
  /** Read only part of the packs, as restic spells it: "N%" (a random share) or "n/t" (the n-th of t fixed groups by pack ID). */
  readDataSubset?: string;
}
export interface CheckResult {
  ok: boolean;
  problems: Array<{ severity: 'error' | 'warning'; message: string; packId?: string }>;
  snapshots: number;
  trees: number;
  blobs: number;
  packs: number;
  packsRead: number;
}

export interface InviteArgs {
  quotaBytes: number;
  expiresInMs: number;
}
export interface InviteResult {
  code: string;
  expiresAt: string;
  quotaBytes: number;
}

export interface PairArgs {
  code: string;
  quotaBytes: number;
}
export interface PairResult {
  peerId: string;
  name: string;
  /** Bytes we let the friend store here. */
  grantToPeer: number;
  /** Bytes the friend lets us store there. */
  grantFromPeer: number;
}

export type PeersArgs = Record<string, never>;
export interface PeerListing {
  name: string;
  peerId: string;
  addresses: string[];
  online: boolean;
  lastSeen: string | null;
  /** Bytes we hold for them, and what we granted them. */
  storedForPeerBytes: number;
  grantToPeer: number;
  /** Bytes they hold for us, and what they granted us. */
  storedAtPeerBytes: number;
  grantFromPeer: number;
  packsAtPeer: number;
  health: 'ok' | 'degraded' | 'failing' | 'unknown';
  /** Why the last write to this friend was refused, if it was (e.g. over quota). */
  shortfall: string | null;
  problems: string[];
  /**
   * How this host reaches the friend right now: on the LAN (a direct TCP connection to an address
   * the friend announced on this network by mDNS), a direct TCP connection, WebRTC (UDP through
   * both NATs), through a relay, or not at all.
   */
  reach: 'lan' | 'direct' | 'webrtc' | 'relayed' | 'unreachable';
  /** The friend whose relay carries the connection (its name), when `reach` is 'relayed'. */
  via: string | null;
  /**
   * Why it is reached so, in one plain sentence of at most 200 characters built from what this
   * agent knows (its own reachability, the friend's advertised address kinds, the last upgrade
   * attempts, when it was last seen), e.g. "we are behind CGNAT and it answers at no direct address:
   * reached through carol's relay", "both behind NAT, no relay: ...".
   */
  reachWhy: string;
  /** Bytes our relay carried for this friend (both directions, its relayed connections to anyone): today (UTC) and since the agent started. */
  relayedForPeer: { todayBytes: number; totalBytes: number };
  /** When it was found unreachable for longer than repair-after: its copies do not count until they pass a challenge (SPEC 13.9). */
  awaySince?: string;
  /** This friend asks us for more space (SPEC 13.10): grant it (`cairn grant`) or refuse it (`cairn grant --refuse`). */
  askFromPeer?: { bytes: number; note: string | null; at: string };
  /** Our request to this friend for more space, until it grants that much; `refused` once it said no. */
  askToPeer?: { bytes: number; at: string; refused?: boolean };
  /** When a copy of ours there was last proved (storage challenge or restore drill); null never; absent where not looked up. */
  lastProvedAt?: string | null;
}
export type PeersResult = PeerListing[];

/** `cairn relay status` (SPEC 13.1, the relay agent): who the relay serves and what it carried. */
export interface RelayStatusResult {
  name: string;
  peerId: string;
  /** Addresses friends dial (in its invite codes). */
  addrs: string[];
  /** Per friend, both directions; 0 = unlimited. */
  limits: { bytesPerSec: number; bytesPerDay: number };
  /** Reservations held on the relay now. */
  reservations: number;
  friends: Array<{
    name: string;
    peerId: string;
    online: boolean;
    /** The friend holds a reservation: others reach it through this relay. */
    reserved: boolean;
    relayedForPeer: { todayBytes: number; totalBytes: number };
  }>;
}

/** This host's reachability as its friends established it (SPEC 13.1). */
export interface HostReachability {
  /** 'public': a friend reached us at a direct address; 'relayed': only through friends' relays; 'unreachable': neither. */
  state: 'public' | 'relayed' | 'unreachable';
  /** Direct addresses friends confirmed reaching us at, and who confirmed them (names). */
  confirmed: string[];
  confirmedBy: string[];
  /** Friends whose relays hold a reservation for us (names). */
  relays: string[];
  /** One line for people, e.g. "behind NAT: reachable through pub". */
  summary: string;
}

export interface FriendRemoveArgs {
  peerId: string;
}
/** What removing a friend does, both ways (also the answer of the dry run). */
export interface FriendRemoveResult {
  name: string;
  peerId: string;
  removed: boolean;
  /** Our packs they held: no longer counted as copies; replication makes new copies elsewhere. */
  ourPacksAtThem: number;
  ourBytesAtThem: number;
  /** Their packs we held: deleted from this disk. */
  theirPacksHere: number;
  theirBytesHere: number;
}

export interface ReplicateArgs {
  wait: boolean;
}
export interface ReplicateResult {
  packs: number;
  /** Packs with fewer copies than wanted, after the last round. */
  underReplicated: number;
  wantedCopies: number;
  /** Packs (and their bytes) friends newly stored, over every round of this call. */
  pushed: number;
  pushedBytes: number;
  headSeq: number;
  /** The last round's problems, then those of earlier rounds (with `wait`), marked "round N (retried): ". */
  problems: string[];
  /** The last round's repair (SPEC 13.9): friends away longer than repair-after, friends back whose copies were challenged, copies released. */
  repair?: RepairSummary;
}

export interface RepairSummary {
  /** Names of friends marked away: their copies do not count until challenged. */
  away: string[];
  /** One line per friend back after an absence: how many of its copies passed and count again. */
  back: string[];
  /** Copies released this round (more than wanted, or beyond a friend's grant): delete requests queued. */
  released: number;
}

/** `cairn grant FRIEND SIZE` (or `--refuse` its pending ask): SPEC 13.10. */
export interface GrantArgs {
  /** Name or PeerId. */
  friend: string;
  bytes?: number;
  refuse?: boolean;
}
export interface GrantResult {
  name: string;
  peerId: string;
  /** What we now let the friend store here. */
  grantToPeer: number;
  /** The ask turned down, with `refuse`. */
  refusedBytes: number | null;
  /** Whether the friend took the message now (else the next replication round that reaches it sends it). */
  delivered: boolean;
}
/** `cairn ask FRIEND SIZE [--note TEXT]`: SPEC 13.10. */
export interface AskArgs {
  friend: string;
  bytes: number;
  /** At most 200 characters, cleaned by the friend before it is shown. */
  note?: string;
}
export interface AskResult {
  name: string;
  peerId: string;
  askedBytes: number;
  /** What the friend grants us now. */
  grantFromPeer: number;
  delivered: boolean;
}

export interface AuditArgs {
  /** After the challenges, replicate until the packs that failed are copied again (or no round makes progress). */
  wait: boolean;
  /** Only this friend (name or PeerId); every friend when absent. */
  friend?: string;
}
/** One friend's part of a challenge round (SPEC 13.8). */
export interface AuditFriend {
  name: string;
  peerId: string;
  challenged: number;
  passed: number;
  /** Packs whose copy there failed: it no longer counts, and is copied again. */
  failed: Array<{ packId: string; reason: string }>;
  /** Challenges that could not be judged (no local copy, and no holder served the whole pack). */
  inconclusive: number;
  /** Why the friend was not challenged (it could not be reached); null when it was. */
  unreachable: string | null;
}
export interface AuditResult {
  friends: AuditFriend[];
  /** The replication round the challenges rode on (with `wait`, the rounds after it too, as replicate --wait). */
  replication: ReplicateResult;
}

// ---- Restore drills (SPEC 13.11) -------------------------------------------------------------------

export interface DrillArgs {
  /** Only this source; every source with a snapshot when absent. */
  source?: string;
  /** Wait for the drill to finish and return its result. */
  wait: boolean;
}
/** One source's part of a drill: a sample of its newest snapshot, restored from friends' copies. */
export interface DrillSource {
  source: string;
  snapshot: string;
  /** Bytes of file content in the snapshot, and the sample's target (SPEC 13.11). */
  totalBytes: number;
  targetBytes: number;
  /** Bytes restored and verified, as whole small files and parts of large ones. */
  sampledBytes: number;
  wholeFiles: number;
  fileParts: number;
  ok: boolean;
  /** Why the source could not be restored from friends (a blob no friend served intact); null when it could. */
  error: string | null;
}
/** One friend's part of a drill: the packs whose sampled bytes it served intact, and those it did not. */
export interface DrillFriend {
  name: string;
  peerId: string;
  /** Packs whose sampled ranges this friend served and that verified. */
  packsProved: number;
  bytesRead: number;
  failed: Array<{ packId: string; reason: string }>;
}
export interface DrillResult {
  /** The job that ran it. */
  jobId: string;
  time: string;
  ok: boolean;
  sources: DrillSource[];
  friends: DrillFriend[];
  /** Each failure in one line, naming the friend and the pack. */
  problems: string[];
}
/** `cairn drill`: the drill's job, and with `wait` its result. */
export interface DrillStarted {
  job: Job;
  result: DrillResult | null;
}

// ---- Docker volumes ---------------------------------------------------------------------------

export type VolumesArgs = Record<string, never>;
/** A container that mounts a volume, as `docker ps -a` shows it. */
export interface VolumeContainer {
  id: string;
  /** Without Docker's leading slash. */
  name: string;
  /** created, running, paused, restarting, exited, dead. */
  state: string;
  image: string;
  /** Where the volume is mounted in the container, and whether writable. */
  destination: string;
  rw: boolean;
  /** The container's labels that configure Cairn (cairn.stop, cairn.pause, cairn.exec.before, cairn.exec.after, ...). */
  labels: Record<string, string>;
}
export interface VolumeListing {
  name: string;
  driver: string;
  mountpoint: string;
  /** The volume's own Docker labels. */
  labels: Record<string, string>;
  /** From the engine's disk-usage report; null when the engine does not know it. */
  sizeBytes: number | null;
  containers: VolumeContainer[];
  /** The latest snapshot tagged `volume:NAME`. */
  lastSnapshot: { id: string; shortId: string; time: string } | null;
}
export type VolumesResult = VolumeListing[];

/** `cairn backup volume:NAME... [PATH...]`: one snapshot of the volumes' mountpoints and the paths. */
export interface VolumeBackupArgs {
  /** Plain directories or files backed up alongside (absolute). */
  paths: string[];
  /** Volume names, without the `volume:` prefix. */
  volumes: string[];
  tags: string[];
  /** A configured source name (the scheduler's runs): recorded in the snapshot. */
  source?: string;
  exclude?: string[];
  /** How volumes are read (default: CAIRN_VOLUME_READ, else auto). */
  volumeRead?: VolumeReadMode;
  /** A configured source's consistency settings, over the containers' labels. */
  consistency?: ConsistencyOverride;
}
export type { VolumeReadMode } from './config.js';
/** One step of the consistency hooks around a volume backup, kept in the job log. */
export interface HookLogEntry {
  time: string;
  container: string;
  action: 'recover' | 'stop' | 'start' | 'pause' | 'unpause' | 'exec.before' | 'exec.after';
  message: string;
  /** exec: the command's exit code and its combined stdout and stderr. */
  exitCode?: number;
  output?: string;
}
export interface VolumeBackupResult extends BackupResult {
  /** Each volume, its path in the snapshot (its mountpoint), and how it was read. */
  volumes: Array<{ name: string; path: string; via: 'mountpoint' | 'helper' }>;
  log: HookLogEntry[];
  /** How each volume was used at backup time (from `docker inspect` of the containers mounting it; the full output is the snapshot's metadata blob `meta`). */
  usage?: VolumeUsage[];
}
/** A volume and the containers that mounted it when it was backed up. */
export interface VolumeUsage {
  volume: string;
  containers: Array<{ name: string; image: string; state: string; destination: string; rw: boolean }>;
}

/** `cairn restore SNAP --to-volume NAME [--from-volume NAME] [--force] [--dry-run]`. */
export interface VolumeRestoreArgs {
  snapshot: string;
  /** The Docker volume to restore into (created when missing). */
  volume: string;
  /** Which volume of the snapshot, when it holds several. */
  fromVolume?: string;
  /** Replace an existing volume (stopping the containers that mount it). */
  force: boolean;
  /** Show what would change, change nothing. */
  dryRun: boolean;
}
export interface VolumeRestoreResult {
  snapshot: string;
  volume: string;
  /** The volume of the snapshot restored, and its directory in the snapshot. */
  fromVolume: string;
  from: string;
  /** The target volume's mountpoint (null in a dry run for a volume that does not exist yet). */
  mountpoint: string | null;
  /** The volume was (dry run: would be) created. */
  createdVolume: boolean;
  dryRun: boolean;
  /** Paths below the volume (as /rel) that are (would be) created, replaced, deleted. Directories whose only difference is metadata are not listed. */
  changes: { created: string[]; replaced: string[]; deleted: string[] };
  /** Containers that are (would be) stopped and started again. */
  stopped: string[];
  /** How the volume was used when backed up, when the agent kept the record. */
  usage: VolumeUsage | null;
  files: number;
  bytes: number;
  errors: string[];
  warnings: string[];
  log: HookLogEntry[];
}

export interface PruneArgs {
  dryRun: boolean;
  /** Repack packs with more than this percentage of unneeded bytes (default 20). */
  maxUnusedPercent?: number;
}
export interface PruneResult {
  dryRun: boolean;
  snapshots: number;
  packsDeleted: number;
  packsRepacked: number;
  strayPacks: number;
  packsWritten: number;
  blobsForgotten: number;
  storedBytesBefore: number;
  storedBytesAfter: number;
  /** Local pack bytes given back (deleted packs, minus the new packs repacking wrote). */
  freedBytes: number;
  /** Packs friends hold that we asked them to delete (after their deletion grace), per friend name. */
  deleteRequests: Array<{ friend: string; packs: number; bytes: number; sent: boolean; detail: string }>;
}

// ---- jobs (the scheduler) ----------------------------------------------------------------------

export type JobKind = 'backup' | 'forget' | 'prune' | 'drill' | 'restore' | 'replicate' | 'check';
/** `cancelled`: stopped at a safe point on request (Ctrl-C, `cairn jobs cancel`, the console's Cancel). */
export type JobState = 'running' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';
/** `manual`: `cairn run`/`drill`; `ad-hoc`: an operation asked for through the API (a CLI command, the console). */
export type JobTrigger = 'schedule' | 'retry' | 'manual' | 'ad-hoc';

export interface JobProgress {
  files: number;
  bytes: number;
  /** Bytes per second over the run so far. */
  bytesPerSec: number;
  currentPath: string;
  /** What the backup will read in all, once a scan of the source has finished (absent before, and for sources with excludes). */
  totalFiles?: number;
  totalBytes?: number;
}

/** Seconds left at the current rate, once the total is known and bytes are moving; else null. */
export function jobEtaSeconds(p: JobProgress): number | null {
  if (p.totalBytes === undefined || p.bytesPerSec <= 0) return null;
  return Math.max(0, Math.ceil((p.totalBytes - p.bytes) / p.bytesPerSec));
}

/** "12 s", "4 min", "2 h 5 min": a duration for people. */
export function humanSeconds(s: number): string {
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

export interface Job {
  /** Sortable by creation time. */
  id: string;
  kind: JobKind;
  /** The source name, or null for maintenance (forget, prune of everything). */
  source: string | null;
  trigger: JobTrigger;
  /** 1 for a slot's first run; retries count up. */
  attempt: number;
  state: JobState;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  progress: JobProgress;
  /** Log lines (capped), each prefixed with its time. */
  log: string[];
  /** The snapshot a backup made. */
  snapshot: string | null;
  error: string | null;
  /** What an ad-hoc job works on, for people ("/srv/data", "snapshot 1a2b3c4d to /tmp/r"). */
  label?: string;
  /**
   * An ad-hoc job's operation result (the JSON the operation answers), once it succeeded; lists in it
   * keep their first JOB_RESULT_MAX_LIST_ITEMS (`truncated` names the lists cut). The caller that
   * waited for the answer got it whole.
   */
  result?: unknown;
}

/** Items kept of each list in a job's stored `result` (a restore's errors can number thousands). */
export const JOB_RESULT_MAX_LIST_ITEMS = 100;

/** One line of an operation's progress stream (POST /ops/NAME with `accept: application/x-ndjson`, SPEC 12.2): the job first, then its progress and log, then the result or the error. */
export type JobStreamEvent =
  | { type: 'job'; job: Job }
  | { type: 'progress'; progress: JobProgress }
  | { type: 'log'; line: string }
  | { type: 'result'; result: unknown }
  | { type: 'error'; code: string; message: string; exitCode: number; job: string };

export interface RunSourceArgs {
  source: string;
}
export interface JobsArgs {
  source?: string;
  limit?: number;
}
export interface JobShowArgs {
  id: string;
}
/** Takes an ad-hoc backup's row off the dashboard (its snapshots stay; a newer backup of it shows again). */
export interface HideSourceArgs {
  name: string;
}
export interface HideSourceResult {
  name: string;
  hiddenAt: string;
}
/** `id`: the job's full ID or its last characters as the console shows them (at least JOB_SUFFIX_MIN_CHARS). */
export interface JobCancelArgs {
  id: string;
  /** Who asks, for the job's log and error ("cancelled by Ctrl-C"). */
  via?: JobCancelVia;
}
export const JOB_CANCEL_VIA = { 'ctrl-c': 'by Ctrl-C', cli: 'by cairn jobs cancel', console: 'from the console' } as const;
export type JobCancelVia = keyof typeof JOB_CANCEL_VIA;
/** The shortest end of a job ID that `jobs show` and `jobs cancel` accept (the console shows the last 6). */
export const JOB_SUFFIX_MIN_CHARS = 6;
/** The content type that asks POST /ops/NAME (the job kinds) for a progress stream instead of one answer. */
export const JOB_STREAM_TYPE = 'application/x-ndjson';
/** A job's progress stream sends its progress at least this often, so a job waiting for the write lock does not look like a dead connection. */
export const JOB_STREAM_HEARTBEAT_MS = 15_000;
/** The longest line a job stream may send (a result: a restore dry run's listing is the biggest). */
export const JOB_STREAM_MAX_LINE_CHARS = 16 * 1024 * 1024;
/** The header value (`prefer: respond-async`) that asks POST /ops/NAME to answer 202 with the job at once. */
export const RESPOND_ASYNC = 'respond-async';

// ---- The catalogue of operations -----------------------------------------------------------------
// Every operation the agent serves as POST /api/v1/ops/<name>: its arguments' JSON schema (the API
// validates bodies with it), whether it holds the repository write lock, and (OperationTypes) its
// argument and result types. The routes (agent/src/api/ops-routes.ts), the CLI's client
// (agent/src/cli/context.ts runOp) and the console's (console/src/api.ts op) are typed from it.

const str = { type: 'string', maxLength: 4096 } as const;
const strList = { type: 'array', items: str, maxItems: 1000 } as const;
const uint = { type: 'integer', minimum: 0 } as const;
const bool = { type: 'boolean' } as const;
/** A retention count: a number of snapshots, or -1 = unlimited. */
const count = { type: 'integer', minimum: -1 } as const;
const filter = { type: 'object', additionalProperties: false, properties: { source: str, host: str, paths: strList, tags: strList } } as const;
const args = (required: string[], properties: Record<string, object>) => ({ type: 'object', required, additionalProperties: false, properties }) as const;
const none = args([], {});

export interface OperationDef {
  /** JSON schema of the arguments. */
  args: object;
  /** Holds the repository write lock while it runs. */
  lock: boolean;
}

export const OPERATIONS = {
  backup: {
    args: args(['paths', 'tags'], { paths: { ...strList, minItems: 1 }, tags: strList, source: str, exclude: strList, oneFileSystem: bool, dryRun: bool }),
    lock: true,
  },
  config: { args: none, lock: false },
  snapshots: { args: args([], { filter, latest: { type: 'integer', minimum: 1, maximum: 1_000_000 } }), lock: false },
  ls: { args: args(['snapshot'], { snapshot: str, path: str }), lock: false },
  browse: {
    args: args(['snapshot'], {
      snapshot: str,
      path: str,
      offset: { ...uint, maximum: BROWSE_MAX_OFFSET },
      limit: { type: 'integer', minimum: 1, maximum: BROWSE_PAGE_MAX_ENTRIES },
    }),
    lock: false,
  },
  stats: { args: args([], { filter }), lock: false },
  find: { args: args(['patterns'], { patterns: { ...strList, minItems: 1, maxItems: 64 }, ignoreCase: bool, filter }), lock: false },
  diff: { args: args(['from', 'to'], { from: str, to: str }), lock: false },
  restore: {
    args: args(['snapshot', 'target', 'include', 'overwrite'], {
      snapshot: str,
      filter,
      target: str,
      include: strList,
      overwrite: bool,
      from: str,
      exclude: strList,
      dryRun: bool,
      verify: bool,
    }),
    lock: false,
  },
  run: { args: args(['source'], { source: str }), lock: false },
  jobs: { args: args([], { source: str, limit: { type: 'integer', minimum: 1, maximum: 2000 } }), lock: false },
  jobShow: { args: args(['id'], { id: str }), lock: false },
  hideSource: { args: args(['name'], { name: str }), lock: false },
  jobCancel: { args: args(['id'], { id: str, via: { type: 'string', enum: Object.keys(JOB_CANCEL_VIA) } }), lock: false },
  prune: { args: args(['dryRun'], { dryRun: bool, maxUnusedPercent: { type: 'number', minimum: 0, maximum: 100 } }), lock: true },
  check: { args: args(['readData'], { readData: bool, readDataSubset: { type: 'string', maxLength: 32 } }), lock: true },
  invite: { args: args(['quotaBytes', 'expiresInMs'], { quotaBytes: uint, expiresInMs: { ...uint, minimum: 1000 } }), lock: false },
  pair: { args: args(['code', 'quotaBytes'], { code: str, quotaBytes: uint }), lock: false },
  peers: { args: none, lock: false },
  unpair: { args: args(['peerId', 'dryRun'], { peerId: str, dryRun: bool }), lock: false },
  volumes: { args: none, lock: false },
  volumeBackup: {
    args: args(['paths', 'volumes', 'tags'], {
      paths: strList,
      volumes: { ...strList, minItems: 1 },
      tags: strList,
      volumeRead: { type: 'string', enum: [...VOLUME_READ_MODES] },
    }),
    lock: true,
  },
  volumeRestore: {
    args: args(['snapshot', 'volume', 'force', 'dryRun'], { snapshot: str, volume: str, fromVolume: str, force: bool, dryRun: bool }),
    lock: false,
  },
  forget: {
    args: args(['dryRun'], {
      policy: args([], {
        keepLast: count,
        keepHourly: count,
        keepDaily: count,
        keepWeekly: count,
        keepMonthly: count,
        keepYearly: count,
        keepWithinMs: { ...uint, minimum: 1 },
        keepTags: strList,
      }),
      source: str,
      dryRun: bool,
      timeZone: str,
    }),
    lock: true,
  },
  pin: { args: args(['snapshot'], { snapshot: str }), lock: true },
  unpin: { args: args(['snapshot'], { snapshot: str }), lock: true },
  tag: { args: args(['snapshots'], { snapshots: { ...strList, maxItems: 100 }, filter, add: strList, remove: strList, set: strList }), lock: true },
  replicate: { args: args(['wait'], { wait: bool }), lock: false },
  audit: { args: args(['wait'], { wait: bool, friend: str }), lock: false },
  grant: { args: args(['friend'], { friend: str, bytes: uint, refuse: bool }), lock: false },
  ask: { args: args(['friend', 'bytes'], { friend: str, bytes: uint, note: { type: 'string', maxLength: 200 } }), lock: false },
  drill: { args: args(['wait'], { wait: bool, source: str }), lock: false },
} as const satisfies Record<string, OperationDef>;

export type OperationName = keyof typeof OPERATIONS;

/** Each operation's [arguments, result]. */
export interface OperationTypes {
  backup: [BackupArgs, BackupResult];
  config: [Record<string, never>, CairnConfig];
  snapshots: [SnapshotsArgs, SnapshotsResult];
  ls: [LsArgs, LsResult];
  browse: [BrowseArgs, BrowseResult];
  find: [FindArgs, FindResult];
  stats: [StatsArgs, StatsResult];
  diff: [DiffArgs, DiffResult];
  restore: [RestoreArgs, RestoreResult];
  run: [RunSourceArgs, Job];
  jobs: [JobsArgs, Job[]];
  jobShow: [JobShowArgs, Job];
  hideSource: [HideSourceArgs, HideSourceResult];
  jobCancel: [JobCancelArgs, Job];
  prune: [PruneArgs, PruneResult];
  check: [CheckArgs, CheckResult];
  invite: [InviteArgs, InviteResult];
  pair: [PairArgs, PairResult];
  peers: [PeersArgs, PeersResult];
  unpair: [FriendRemoveArgs & { dryRun: boolean }, FriendRemoveResult];
  volumes: [VolumesArgs, VolumesResult];
  volumeBackup: [VolumeBackupArgs, VolumeBackupResult];
  volumeRestore: [VolumeRestoreArgs, VolumeRestoreResult];
  forget: [ForgetArgs, ForgetResult];
  pin: [PinArgs, PinResult];
  unpin: [PinArgs, PinResult];
  tag: [TagArgs, TagResult];
  replicate: [ReplicateArgs, ReplicateResult];
  audit: [AuditArgs, AuditResult];
  grant: [GrantArgs, GrantResult];
  ask: [AskArgs, AskResult];
  drill: [DrillArgs, DrillStarted];
}
export type OperationArgs<K extends OperationName> = OperationTypes[K][0];
export type OperationResult<K extends OperationName> = OperationTypes[K][1];
