// The friend mesh, composed: one libp2p node and the small services on it (service.ts), started in
// order and stopped in reverse. The composition root (compose-root.ts: the daemon and the CLI's
// in-process commands, `cairn recover`) builds it here on the ledgers it opened. Each service owns its part: the gate and
// presence who is a friend on the node, pairing the invites, the directory the friend list and
// removal, one service per protocol its handler (pack-get also the reader through friends, which
// the repository is handed when opened), replication the rounds, deletion the delete requests both
// ways; for the running agent, LAN discovery finds friends
// on the LAN by mDNS and port mapping asks the router to forward our port (both off when absent).
import { join } from 'node:path';
import { CONFIG_DEFAULTS } from '../../../protocol/config.js';
import type { Repository } from '../repo/repository.js';
import { startHashingThread } from '../store/hashing-writer.js';
import type { Clock } from '../util/clock.js';
import { TokenBucket } from '../util/rate-limit.js';
import { challengeService } from './challenge.js';
import type { AuditSettings } from './challenge-rotation.js';
import type { MeshContext } from './context.js';
import type { TransferLimits } from './deadline.js';
import { Deletion } from './deletion.js';
import { FriendDirectory } from './friend-directory.js';
import { FriendGate } from './friend-gate.js';
import { FriendPresence } from './friend-presence.js';
import { grantService } from './grant.js';
import { headService } from './head.js';
import { HostedStore } from './hosted-store.js';
import type { Ledgers } from './ledgers.js';
import { createMeshNode, peerKeyFromSeed } from './node.js';
import { packDeleteService } from './pack-delete.js';
import { PackGetService } from './pack-get-service.js';
import { packListService } from './pack-list.js';
import { packPutService } from './pack-put.js';
import { LAN_QUERY_INTERVAL_MS, LanAnnouncements, LanDiscovery } from './lan-discovery.js';
import { Pairing } from './pairing.js';
import { PortMapping } from './port-mapping.js';
import { Replication } from './replication.js';
import type { SettingsSource } from './head-settings.js';
import { ServiceGroup, type Startable } from './service.js';
import { shareableAddrs } from './addresses.js';
import { reachService } from './reach.js';
import { Reachability } from './reachability.js';
import { ownAddresses, relayControl } from './relay.js';
import { RelayBudget, type RelayLimits } from './relay-budget.js';
import { RelayBudgetFile, relayBudgetPath } from './relay-budget-file.js';
import { DirectUpgrade } from './direct-upgrade.js';
import { StunResponder } from './stun-server.js';
import { tcpListenEndpoints } from './webrtc.js';

export interface MeshOptions {
  listen: string[];
  /** Addresses friends are told besides the ones the node sees on its interfaces. */
  announce?: string[];
  name: string;
  replicas: number;
  /** Keep at least this many bytes free on the disk holding friends' packs. */
  diskFloorBytes: number;
  /** Upload limit for replication in bytes per second; unlimited when absent. */
  bandwidthBytesPerSec?: number;
  /** How long friends' packs stay after they ask us to delete them (ms; default 7 days). */
  deletionGraceMs?: number;
  clock: Clock;
  /** Inactivity timeout and transfer deadlines; the protocol's defaults when absent (tests set small ones). */
  limits?: Partial<TransferLimits>;
  /** Storage challenges' audit period and daily share (SPEC 13.8); the defaults when absent. */
  audit?: AuditSettings;
  /** A friend unreachable for longer than this stops counting (SPEC 13.9, ms); the default when absent. */
  repairAfterMs?: number;
  /** The running agent's: friends' packs whose deletion grace has passed are deleted while the mesh runs, each sweep logged here. */
  sweepLog?: (line: string) => void;
  /** More services on the node, started after Cairn's protocols (the benchmark's agent adds its sink). */
  extraServices?: (ctx: MeshContext) => Startable[];
  /** Find friends on the LAN by mDNS (lan-discovery.ts); off when absent (the CLI's short-lived meshes). */
  lanDiscovery?: boolean;
  /** Ask the router to forward the listening port (port-mapping.ts); off when absent. */
  portMapping?: boolean;
  /** What our relay carries per friend (cairn.yaml relay; SPEC 13.1); CONFIG_DEFAULTS.relay when absent. */
  relayLimits?: RelayLimits;
  /** The agent's log: relay reservations that failed, what LAN discovery and port mapping found. */
  log?: (line: string) => void;
  /** STUN servers the user configured (`stun:`); none when absent: friends' agents answer STUN (webrtc.ts). */
  stun?: string[];
  /** false: no WebRTC (cairn.yaml `webrtc: false`). */
  webrtc?: boolean;
  /** The owner's settings files each head carries (the agent's); absent: a head keeps the previous head's (head-settings.ts). */
  settings?: SettingsSource;
}

export class Mesh {
  readonly ctx: MeshContext;
  readonly ledgers: Ledgers;
  readonly gate: FriendGate;
  readonly presence: FriendPresence;
  readonly pairing: Pairing;
  readonly directory: FriendDirectory;
  readonly packGet: PackGetService;
  readonly replication: Replication;
  readonly deletion: Deletion;
  readonly reachability: Reachability;
  readonly portMapping: PortMapping;
  /** What our relay carried for each friend, within its limits. */
  readonly relayBudget: RelayBudget;
  /** Friends reached only through a relay are dialled again, over TCP or WebRTC (direct-upgrade.ts). */
  readonly upgrade: DirectUpgrade;
  readonly stunResponder: StunResponder;
  private readonly services: ServiceGroup;

  constructor(ctx: MeshContext, ledgers: Ledgers, gate: FriendGate, repo: Repository, opts: MeshOptions, relayBudget: RelayBudget) {
    this.ctx = ctx;
    this.relayBudget = relayBudget;
    this.ledgers = ledgers;
    this.gate = gate;
    this.presence = new FriendPresence(ctx, gate);
    this.pairing = new Pairing(ctx, gate, this.presence, () => this.addresses());
    // what friends announce on the LAN by mDNS, for `cairn peers` to tell "LAN" from "direct"
    const lan = new LanAnnouncements();
    this.directory = new FriendDirectory(ctx, gate, this.presence, (peerId) => relayBudget.count(peerId), lan);
    this.packGet = new PackGetService(ctx, repo.store, this.presence);
    this.deletion = new Deletion(ctx, opts.sweepLog);
    this.replication = new Replication(
      ctx,
      repo,
      this.deletion,
      opts.replicas,
      opts.audit ?? CONFIG_DEFAULTS.friends.audit,
      opts.repairAfterMs ?? CONFIG_DEFAULTS.friends.repairAfterMs,
      { ...(opts.settings ? { settings: opts.settings } : {}), ...(opts.log ? { log: opts.log } : {}) },
    );
    this.reachability = new Reachability(ctx, relayControl(ctx.node), ownAddresses(ctx.node), opts.log ? { log: opts.log } : {});
    this.upgrade = new DirectUpgrade(ctx.node, (id) => gate.isFriend(id), opts.log ? { log: opts.log } : {});
    // a new friend may be one to ask for a dial-back, or to relay through, or one reached only
    // through a relay (paired over it: identified before it was a friend) to upgrade
    this.presence.onWelcome = (peerId) => {
      this.reachability.soon();
      this.upgrade.soon(peerId);
    };
    const log = opts.log ?? (() => undefined);
    this.portMapping = new PortMapping(ctx, opts.portMapping === true, log);
    this.directory.reachFacts = {
      self: async () => {
        const v = await this.reachability.view();
        return { state: v.state, relays: v.relays };
      },
      behindCgnat: () => ['carrier-nat', 'double-nat', 'no-public-address'].includes(this.portMapping.status().state),
      upgradeFailures: (peerId) => this.upgrade.failuresOf(peerId),
    };
    this.stunResponder = new StunResponder({ endpoints: () => tcpListenEndpoints(ctx.node), allow: (ip) => gate.isFriendIp(ip), clock: ctx.clock, log });
    this.services = new ServiceGroup([
      // what friends used of the relay today, back from before a restart (relay-budget-file.ts)
      new RelayBudgetFile(relayBudgetPath(repo.paths.home), relayBudget, { log }),
      gate,
      this.pairing,
      packPutService(ctx),
      this.packGet,
      packListService(ctx),
      headService(ctx),
      packDeleteService(ctx),
      reachService(ctx),
      challengeService(ctx),
      grantService(ctx),
      ...(opts.extraServices?.(ctx) ?? []),
      this.presence,
      ...(opts.lanDiscovery ? [new LanDiscovery(ctx, gate, log, LAN_QUERY_INTERVAL_MS, lan)] : []),
      this.portMapping,
      this.stunResponder,
      this.upgrade,
      this.replication,
      this.deletion,
      this.reachability,
    ]);
  }

  /** Starts the services in order; on a failure, those started are stopped again (in reverse), and the node. */
  async start(): Promise<void> {
    try {
      await this.services.start();
    } catch (err) {
      try {
        await this.ctx.node.stop();
      } catch {
        // the start's error is the one to report
      }
      throw err;
    }
  }

  /** Stops the services in reverse order, then the node. */
  async stop(): Promise<void> {
    try {
      await this.services.stop();
    } finally {
      await this.ctx.node.stop();
    }
  }

  /** Applies the settings that can change while running (a config reload). */
  retune(s: {
    replicas: number;
    bandwidthBytesPerSec: number;
    deletionGraceMs: number;
    audit?: AuditSettings;
    relayLimits?: RelayLimits;
    repairAfterMs?: number;
  }): void {
    if (s.relayLimits) this.relayBudget.limits = s.relayLimits;
    this.replication.replicas = s.replicas;
    if (s.repairAfterMs !== undefined) this.replication.repairAfterMs = s.repairAfterMs;
    if (s.audit) this.replication.challenger.settings = s.audit;
    this.ctx.deletionGraceMs = s.deletionGraceMs;
    if (s.bandwidthBytesPerSec > 0) this.ctx.throttle = new TokenBucket(s.bandwidthBytesPerSec, this.ctx.clock);
    else delete this.ctx.throttle;
  }

  get peerId(): string {
    return this.ctx.node.peerId.toString();
  }

  /** Addresses friends can dial (listening on 0.0.0.0 expands to every interface). */
  addresses(): string[] {
    return shareableAddrs(this.ctx.node.getMultiaddrs());
  }
}

/** What the mesh is built on: the repository, and the ledgers on the same state database (opened by the composition root). */
export interface MeshStores {
  repo: Repository;
  ledgers: Ledgers;
}

/** Builds the mesh of `repo` (node, services) on its ledgers and starts it. */
export async function createMesh({ repo, ledgers }: MeshStores, opts: MeshOptions): Promise<Mesh> {
  const gate = new FriendGate(ledgers.friends, opts.clock);
  const privateKey = await peerKeyFromSeed(repo.keys.sign);
  const relayBudget = new RelayBudget(opts.relayLimits ?? CONFIG_DEFAULTS.relay, opts.clock);
  const node = await createMeshNode({
    privateKey,
    listen: opts.listen,
    announce: opts.announce ?? [],
    admit: (peer) => gate.admits(peer),
    isFriendIp: (ip) => gate.isFriendIp(ip),
    relay: { isFriend: (peer) => gate.isFriend(peer.toString()), inviteOpen: () => gate.inviteOpen() },
    relayBudget,
    stun: opts.stun ?? [],
    webrtc: opts.webrtc !== false,
  });
  // pairing (from either side) tells presence, which is built with the mesh below
  const late: { mesh?: Mesh } = {};
  const ctx: MeshContext = {
    node,
    privateKey,
    ...ledgers,
    hosted: new HostedStore(join(repo.paths.home, 'hosted'), ledgers.hostedPacks, { floorBytes: opts.diskFloorBytes }),
    clock: opts.clock,
    name: opts.name,
    onFriend: async (peerId) => late.mesh?.presence.welcome(peerId),
    deletionGraceMs: opts.deletionGraceMs ?? CONFIG_DEFAULTS.friends.deletionGraceMs,
    ...(opts.bandwidthBytesPerSec ? { throttle: new TokenBucket(opts.bandwidthBytesPerSec, opts.clock) } : {}),
    ...(opts.limits ? { limits: opts.limits } : {}),
  };
  // friends' packs and our fetched ones are hashed and written on this thread: boot it now
  startHashingThread();
  const mesh = new Mesh(ctx, ledgers, gate, repo, opts, relayBudget);
  late.mesh = mesh;
  await mesh.start();
  return mesh;
}
