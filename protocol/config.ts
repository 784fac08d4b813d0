// The validated shape of cairn.yaml (CAIRN_HOME/cairn.yaml or --config). The loader in
// agent/src/config/ turns YAML into these types with line-numbered errors; the scheduler, the
// daemon and the console read only these. Sizes are bytes, durations milliseconds, after parsing.

/** restic `forget` options, same meaning (see SPEC.md "Retention"). Absent = not used. */
export interface RetentionPolicy {
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
  /** Keep every snapshot younger than this, relative to the newest snapshot of the group (ms). */
  keepWithinMs?: number;
  /** Keep every snapshot carrying any of these tags. */
  keepTags?: string[];
}

export interface SourceConfig {
  /** Unique, [a-z0-9][a-z0-9._-]*: recorded in each snapshot as `source`. */
  name: string;
  /** Docker volume names. */
  volumes: string[];
  /** Docker label selectors ("key" or "key=value"): every volume whose containers (or itself) carry the label. */
  volumeSelectors: string[];
  /** Absolute directories. */
  paths: string[];
  /** Glob patterns of paths never backed up (gitignore-like: `*.tmp`, `cache/`, `/abs/path`). */
  exclude: string[];
  /** A cron expression (5 or 6 fields, node-cron syntax), or absent: only `cairn run NAME`. */
  schedule?: string;
  retention: RetentionPolicy;
  tags: string[];
  /** Overrides the cairn.* labels of the containers that mount this source's volumes; absent fields leave the labels in charge. */
  consistency?: ConsistencyOverride;
  /** How this source's volumes are read (default: CAIRN_VOLUME_READ, else auto). */
  volumeRead?: VolumeReadMode;
}

/**
 * auto: through the volume's mountpoint when the agent can read it, else through a helper container;
 * mountpoint / helper: only that way (tests, benchmarks, or to rule one out).
 */
export const VOLUME_READ_MODES = ['auto', 'mountpoint', 'helper'] as const;
export type VolumeReadMode = (typeof VOLUME_READ_MODES)[number];

/** cairn.stop / cairn.pause / cairn.exec.* set in cairn.yaml instead of (or over) container labels. */
export interface ConsistencyOverride {
  stop?: boolean;
  pause?: boolean;
  execBefore?: string;
  execAfter?: string;
  execTimeoutMs?: number;
  /** Run exec-before/after only in this container (by name); absent: in every container mounting the volumes. */
  execContainer?: string;
}

export interface FriendDefaults {
  /** Space offered to a new friend by default (bytes). */
  grantBytes: number;
  /** How long a friend waits before applying our delete requests (ms). */
  deletionGraceMs: number;
  /** Storage challenges (SPEC 13.8): every pack at every friend is challenged within `periodMs`, and a day's challenges read at most `dailyShare` of what a friend holds. */
  audit: { periodMs: number; dailyShare: number };
  /** A friend unreachable for longer than this stops counting as a holder, and its packs are copied to other friends (SPEC 13.9). */
  repairAfterMs: number;
}

export interface CairnConfig {
  /** The name friends see (default: the hostname). */
  name?: string;
  sources: SourceConfig[];
  /** Copies of each pack at friends. */
  replicas: number;
  friends: FriendDefaults;
  /** Upload limit for replication, bytes per second; 0 = unlimited. */
  bandwidthBytesPerSec: number;
  /** libp2p listen multiaddrs. */
  listen: string[];
  /**
   * Addresses friends are told besides those the agent sees on its interfaces: the public address
   * or DNS name (and forwarded port) of a host behind a router, e.g. /dns4/nas.example.org/tcp/4001.
   */
  announce: string[];
  /**
   * Find friends on the local network by multicast DNS (SPEC 13.1.1) and connect to them directly.
   * Anyone on the LAN sees the announcement (our PeerId and LAN addresses); false: no mDNS at all.
   */
  lanDiscovery: boolean;
  /**
   * Ask the router (UPnP IGD, NAT-PMP) to forward the listening port, and tell friends the mapped
   * address (SPEC 13.1.2); false: never contact the router.
   */
  portMapping: boolean;
  /**
   * What this agent's relay (SPEC 13.1) carries for each friend: bytes per second and bytes per UTC
   * day, both directions, counted for both ends of a relayed connection; 0 = unlimited.
   */
  relay: { bytesPerSec: number; bytesPerDay: number };
  /**
   * STUN servers WebRTC may ask (`stun:host:port`; the first is used), SPEC 13.1. Empty: only
   * friends' agents answer STUN, and no third-party server is contacted.
   */
  stun: string[];
  /**
   * WebRTC between friends behind NATs (SPEC 13.1): false leaves the transport out (no UDP, no
   * native WebRTC library loaded); friends behind NAT are then reached through relays only.
   */
  webrtc: boolean;
  /**
   * The console and API address, host:port. Non-loopback needs `allowRemote: true` and is always
   * served over TLS: with `tlsCert`/`tlsKey` (PEM files, both or neither), else a self-signed
   * certificate the agent makes in its home. With the files, loopback is served over TLS too.
   */
  console: { address: string; allowRemote: boolean; tlsCert?: string; tlsKey?: string };
  /** When forget (by each source's retention) and prune run on their own; absent = never. */
  maintenance: { forgetSchedule?: string; pruneSchedule?: string };
  /** Restore drills (SPEC 13.11): when a sample of each source's newest snapshot is restored from friends' copies alone; absent schedule = never. */
  drills: { schedule?: string };
  /** Refuse friends' packs when free disk would drop below this (bytes). */
  diskFloorBytes: number;
  /** How often the agent replicates on its own, besides after each backup (ms). */
  replicateIntervalMs: number;
}

const GIB = 1024 ** 3;

/** What an absent key means. The CLI's own defaults (cli/defaults.ts) are these too. */
export const CONFIG_DEFAULTS = {
  replicas: 2,
  friends: { grantBytes: 10 * GIB, deletionGraceMs: 7 * 86_400_000, audit: { periodMs: 30 * 86_400_000, dailyShare: 0.01 }, repairAfterMs: 14 * 86_400_000 },
  bandwidthBytesPerSec: 0,
  listen: ['/ip4/0.0.0.0/tcp/4001'],
  announce: [],
  lanDiscovery: true,
  portMapping: true,
  relay: { bytesPerSec: 4 * 1024 ** 2, bytesPerDay: 8 * GIB },
  stun: [],
  webrtc: true,
  console: { address: '127.0.0.1:8080', allowRemote: false },
  diskFloorBytes: GIB,
  replicateIntervalMs: 15 * 60_000,
  /** Weekly: Sundays at 04:30. */
  drills: { schedule: '30 4 * * 0' },
} as const;
