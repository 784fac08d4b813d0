// The friend mesh as one service: the libp2p node, its protocol handlers, the friend book, packs
// held for friends, and the owner-side operations (invite, pair, peers, replicate).
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { KEEP_ALIVE, type Libp2p, type PeerId } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import type { InviteResult, PairResult, PeerListing, PeersResult, PruneResult, ReplicateResult } from '../../../protocol/api.js';
import { CONFIG_DEFAULTS } from '../../../protocol/config.js';
import type { FriendRemoveResult } from '../../../protocol/console-api.js';
import { decodeInvite, encodeInvite, INVITE_SECRET_BYTES, InviteFormatError, inviteId } from '../../../protocol/invite.js';
import { MAX_DELETE_PACKS, PROTOCOLS } from '../../../protocol/mesh.js';
import type { Repository } from '../repo/repository.js';
import { startHashingThread } from '../store/hashing-writer.js';
import type { Clock } from '../util/clock.js';
import { TokenBucket } from '../util/rate-limit.js';
import { errorMessage, UsageError } from '../util/errors.js';
import { BENCH_SINK_PROTOCOL, benchSinkEnabled, benchSinkHandler } from './bench-sink.js';
import { ipOf } from './admission.js';
import type { MeshContext } from './context.js';
import type { TransferLimits } from './deadline.js';
import { forgetFriend, openLedgers, type Ledgers } from './ledgers.js';
import { headHandler } from './head.js';
import { HostedStore } from './hosted-store.js';
import { MeshPackReader } from './mesh-reader.js';
import { createMeshNode, peerKeyFromSeed } from './node.js';
import { fetchPack, packGetHandler } from './pack-get.js';
import { applyDueDeletions, packDeleteHandler, requestDeletes } from './pack-delete.js';
import { packListHandler } from './pack-list.js';
import { packPutHandler } from './pack-put.js';
import { pairHandler, pairWith } from './pair.js';
import { replicateOnce } from './replicator.js';

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
}

const MAX_INBOUND_STREAMS = 32;

export class Mesh {
  readonly ctx: MeshContext;
  readonly ledgers: Ledgers;
  readonly reader: MeshPackReader;
  private readonly repo: Repository;
  private readonly opts: MeshOptions;
  private readonly friendIds = new Set<string>();
  /** IPs friends were seen at or listen on: admitted ahead of strangers before Noise (admission.ts). */
  private friendIps = new Set<string>();
  private openInvites = 0;
  /** The last replication round asked for; the next one starts after it. */
  private replicationTail: Promise<unknown> = Promise.resolve();
  private readonly fetchLoad = new Map<string, number>();

  private constructor(repo: Repository, opts: MeshOptions, ctx: MeshContext, ledgers: Ledgers) {
    this.repo = repo;
    this.opts = opts;
    this.ctx = ctx;
    this.ledgers = ledgers;
    this.reader = new MeshPackReader(repo.store, {
      holdersOf: (packId) => this.holdersOf(packId),
      fetch: async (peerId, packId, into) => {
        this.fetchLoad.set(peerId, (this.fetchLoad.get(peerId) ?? 0) + 1);
        try {
          await fetchPack(this.ctx, peerIdFromString(peerId), packId, into);
        } finally {
          this.fetchLoad.set(peerId, (this.fetchLoad.get(peerId) ?? 1) - 1);
        }
      },
      report: async (peerId, problem, packId) => {
        await this.ledgers.friends.addProblem(peerId, problem);
        await this.ledgers.copies.removeReplica(packId, peerId);
        process.stderr.write(`warning: friend ${(await this.ledgers.friends.get(peerId))?.name ?? peerId} ${problem}\n`);
      },
    });
  }

  static async start(repo: Repository, opts: MeshOptions): Promise<Mesh> {
    const ledgers = openLedgers(repo.state);
    const book = ledgers.friends;
    const privateKey = await peerKeyFromSeed(repo.keys.sign);
    // the gater and handlers need the mesh, which needs the node: a late-bound reference
    const late: { mesh?: Mesh } = {};
    const node: Libp2p = await createMeshNode({
      privateKey,
      listen: opts.listen,
      announce: opts.announce ?? [],
      admit: (peer: PeerId) => late.mesh?.admits(peer) ?? false,
      isFriendIp: (ip) => late.mesh?.friendIps.has(ip) ?? false,
    });
    const ctx: MeshContext = {
      node,
      privateKey,
      ...ledgers,
      hosted: new HostedStore(join(repo.paths.home, 'hosted'), ledgers.hostedPacks, { floorBytes: opts.diskFloorBytes }),
      clock: opts.clock,
      name: opts.name,
      onFriend: async (peerId) => late.mesh?.welcome(peerId),
      deletionGraceMs: opts.deletionGraceMs ?? CONFIG_DEFAULTS.friends.deletionGraceMs,
      ...(opts.bandwidthBytesPerSec ? { throttle: new TokenBucket(opts.bandwidthBytesPerSec, opts.clock) } : {}),
      ...(opts.limits ? { limits: opts.limits } : {}),
    };
    // friends' packs and our fetched ones are hashed and written on this thread: boot it now
    startHashingThread();
    const mesh = new Mesh(repo, opts, ctx, ledgers);
    late.mesh = mesh;
    for (const f of await book.list()) mesh.friendIds.add(f.peerId);
    await mesh.refreshFriendIps();
    mesh.openInvites = (await book.openInvites(opts.clock.now() / 1000)).length;
    const handlerOpts = { maxInboundStreams: MAX_INBOUND_STREAMS };
    await node.handle(PROTOCOLS.pair, pairHandler(ctx), handlerOpts);
    await node.handle(PROTOCOLS.packPut, packPutHandler(ctx), handlerOpts);
    await node.handle(PROTOCOLS.packGet, packGetHandler(ctx), handlerOpts);
    await node.handle(PROTOCOLS.packList, packListHandler(ctx), handlerOpts);
    await node.handle(PROTOCOLS.head, headHandler(ctx), handlerOpts);
    await node.handle(PROTOCOLS.packDelete, packDeleteHandler(ctx), handlerOpts);
    // benchmark only (npm run bench): a friend-only sink that discards bytes
    if (benchSinkEnabled()) await node.handle(BENCH_SINK_PROTOCOL, benchSinkHandler(ctx), handlerOpts);
    node.addEventListener('peer:connect', (evt) => {
      const id = evt.detail.toString();
      if (mesh.friendIds.has(id)) void book.update(id, (f) => (f.lastSeen = new Date(opts.clock.now()).toISOString())).catch(() => undefined);
    });
    node.addEventListener('connection:open', (evt) => {
      const id = evt.detail.remotePeer.toString();
      const ip = ipOf(evt.detail.remoteAddr);
      if (!mesh.friendIds.has(id) || ip === null || mesh.friendIps.has(ip)) return;
      void book
        .sawFriendAt(id, ip)
        .then(() => mesh.refreshFriendIps())
        .catch(() => undefined);
    });
    node.addEventListener('peer:identify', (evt) => {
      const id = evt.detail.peerId.toString();
      const addrs = evt.detail.listenAddrs.map((a) => a.toString());
      if (mesh.friendIds.has(id) && addrs.length > 0) {
        void book
          .update(id, (f) => (f.addrs = addrs))
          .then(() => mesh.refreshFriendIps())
          .catch(() => undefined);
      }
    });
    repo.reader = mesh.reader;
    for (const f of await book.list()) await mesh.remember(f.peerId, f.addrs);
    return mesh;
  }

  /** Applies the settings that can change while running (a config reload). */
  retune(s: { replicas: number; bandwidthBytesPerSec: number; deletionGraceMs: number }): void {
    this.opts.replicas = s.replicas;
    this.ctx.deletionGraceMs = s.deletionGraceMs;
    if (s.bandwidthBytesPerSec > 0) this.ctx.throttle = new TokenBucket(s.bandwidthBytesPerSec, this.opts.clock);
    else delete this.ctx.throttle;
  }

  async stop(): Promise<void> {
    this.repo.reader = this.repo.store;
    await this.ctx.node.stop();
  }

  /** Copies of each pack wanted at friends (before capping by the number of friends). */
  get replicas(): number {
    return this.opts.replicas;
  }

  get peerId(): string {
    return this.ctx.node.peerId.toString();
  }

  /** Addresses friends can dial (listening on 0.0.0.0 expands to every interface). */
  addresses(): string[] {
    return this.ctx.node.getMultiaddrs().map((a) => a.toString().replace(/\/p2p\/[^/]+$/, ''));
  }

  /** Rebuilds the set of IPs friends are known at: where they were last seen, and where they listen. */
  async refreshFriendIps(): Promise<void> {
    const ips = new Set<string>();
    for (const f of await this.ledgers.friends.list()) {
      for (const ip of f.seenFrom ?? []) ips.add(ip);
      for (const a of f.addrs) {
        try {
          const ip = ipOf(multiaddr(a));
          if (ip !== null && ip !== '0.0.0.0' && ip !== '::') ips.add(ip);
        } catch {
          // not a multiaddr: nothing to admit
        }
      }
    }
    this.friendIps = ips;
  }

  admits(peer: PeerId): boolean {
    if (this.friendIds.has(peer.toString())) return true;
    return this.openInvites > 0;
  }

  /** Puts every friend (or one) in the peer store with its addresses, tagged keep-alive. */
  async remember(peerId?: string, addrs?: string[]): Promise<void> {
    if (peerId === undefined) {
      for (const f of await this.ledgers.friends.list()) {
        this.friendIds.add(f.peerId);
        await this.remember(f.peerId, f.addrs);
      }
      return;
    }
    const valid = (addrs ?? []).flatMap((a) => {
      try {
        return [multiaddr(a)];
      } catch {
        return [];
      }
    });
    await this.ctx.node.peerStore.merge(peerIdFromString(peerId), { multiaddrs: valid, tags: { [KEEP_ALIVE]: { value: 1 } } });
  }

  private async welcome(peerId: string): Promise<void> {
    this.friendIds.add(peerId);
    this.openInvites = (await this.ledgers.friends.openInvites(this.opts.clock.now() / 1000)).length;
    const f = await this.ledgers.friends.get(peerId);
    if (f) await this.remember(peerId, f.addrs);
    await this.refreshFriendIps();
  }

  isOnline(peerId: string): boolean {
    return this.ctx.node.getConnections(peerIdFromString(peerId)).length > 0;
  }

  /** Our packs that friends confirmed storing: pack ID -> the friends' names. */
  async packHolderNames(): Promise<Map<string, string[]>> {
    const names = new Map((await this.ledgers.friends.list()).map((f) => [f.peerId, f.name]));
    const out = new Map<string, string[]>();
    for (const [packId, peers] of (await this.ledgers.copies.replicaMap()).byPack) {
      const held = [...peers].flatMap((p) => (names.has(p) ? [names.get(p) as string] : []));
      if (held.length > 0) out.set(packId, held.sort());
    }
    return out;
  }

  private async holdersOf(packId: string): Promise<Array<{ peerId: string; name: string }>> {
    const recorded = await this.ledgers.copies.holders(packId);
    const friends = await this.ledgers.friends.list();
    const byId = new Map(friends.map((f) => [f.peerId, f]));
    const ids = recorded.length > 0 ? recorded.filter((id) => byId.has(id)) : friends.map((f) => f.peerId);
    // least busy first, so a restore spreads over every friend that holds copies
    ids.sort((a, b) => (this.fetchLoad.get(a) ?? 0) - (this.fetchLoad.get(b) ?? 0) || Number(this.isOnline(b)) - Number(this.isOnline(a)));
    return ids.map((id) => ({ peerId: id, name: byId.get(id)?.name ?? id }));
  }

  async invite(quotaBytes: number, expiresInMs: number): Promise<InviteResult> {
    const secret = randomBytes(INVITE_SECRET_BYTES).toString('hex');
    const expiresAt = Math.floor((this.opts.clock.now() + expiresInMs) / 1000);
    await this.ledgers.friends.putInvite({ id: inviteId(secret), secret, expiresAt, quotaBytes, failures: 0, used: false });
    this.openInvites += 1;
    const code = encodeInvite({ peerId: this.peerId, addrs: this.addresses(), expiresAt, quotaBytes, secret });
    return { code, expiresAt: new Date(expiresAt * 1000).toISOString(), quotaBytes };
  }

  async pair(code: string, quotaBytes: number): Promise<PairResult> {
    let invite;
    try {
      invite = decodeInvite(code);
    } catch (err) {
      if (err instanceof InviteFormatError) throw new UsageError(err.message, 'E_INVITE_FORMAT');
      throw err;
    }
    if (invite.peerId === this.peerId) throw new UsageError('this invite was made by this agent: give it to a friend', 'E_INVITE_SELF');
    const accept = await pairWith(this.ctx, invite, quotaBytes);
    const now = new Date(this.opts.clock.now()).toISOString();
    const existing = await this.ledgers.friends.get(invite.peerId);
    await this.ledgers.friends.put({
      peerId: invite.peerId,
      name: accept.name.slice(0, 64) || invite.peerId.slice(-8),
      addrs: invite.addrs,
      grantToPeer: existing && accept.known ? existing.grantToPeer : quotaBytes,
      grantFromPeer: accept.grantBytes,
      createdAt: existing?.createdAt ?? now,
      lastSeen: now,
      shortfall: null,
      problems: existing?.problems ?? [],
    });
    await this.welcome(invite.peerId);
    const f = await this.ledgers.friends.get(invite.peerId);
    return { peerId: invite.peerId, name: f?.name ?? '', grantToPeer: f?.grantToPeer ?? 0, grantFromPeer: f?.grantFromPeer ?? 0 };
  }

  async peers(): Promise<PeersResult> {
    const { bytesAt, packsAt } = await this.ledgers.copies.replicaMap();
    const out: PeerListing[] = [];
    for (const f of await this.ledgers.friends.list()) {
      const online = this.isOnline(f.peerId);
      const recent = f.problems.slice(-3);
      out.push({
        name: f.name,
        peerId: f.peerId,
        addresses: f.addrs,
        online,
        lastSeen: f.lastSeen,
        storedForPeerBytes: await this.ledgers.hostedPacks.hostedBytes(f.peerId),
        grantToPeer: f.grantToPeer,
        storedAtPeerBytes: bytesAt.get(f.peerId) ?? 0,
        grantFromPeer: f.grantFromPeer,
        packsAtPeer: packsAt.get(f.peerId) ?? 0,
        health: recent.length > 0 ? 'degraded' : f.lastSeen ? 'ok' : 'unknown',
        shortfall: f.shortfall,
        problems: recent,
      });
    }
    return out;
  }

  /** What removing a friend means both ways; unless `dryRun`, does it: forgets them, deletes the packs we hold for them, hangs up. */
  async removeFriend(peerId: string, dryRun: boolean): Promise<FriendRemoveResult> {
    const f = await this.ledgers.friends.get(peerId);
    if (!f) throw new UsageError(`no friend with peer ID ${peerId}`, 'E_NOT_FOUND');
    const { bytesAt, packsAt } = await this.ledgers.copies.replicaMap();
    const theirs: string[] = [];
    let theirBytes = 0;
    for await (const [k, v] of await this.ledgers.hostedPacks.hostedPacks(peerId)) {
      theirs.push(k.slice(peerId.length + 1));
      theirBytes += Number(v);
    }
    const result: FriendRemoveResult = {
      name: f.name,
      peerId,
      removed: false,
      ourPacksAtThem: packsAt.get(peerId) ?? 0,
      ourBytesAtThem: bytesAt.get(peerId) ?? 0,
      theirPacksHere: theirs.length,
      theirBytesHere: theirBytes,
    };
    if (dryRun) return result;
    this.friendIds.delete(peerId);
    await forgetFriend(this.ledgers, peerId);
    await this.refreshFriendIps();
    for (const packId of theirs) await this.ctx.hosted.remove(peerId, packId);
    const peer = peerIdFromString(peerId);
    await this.ctx.node.peerStore.merge(peer, { tags: { [KEEP_ALIVE]: undefined } }).catch(() => undefined);
    await this.ctx.node.hangUp(peer).catch(() => undefined);
    return { ...result, removed: true };
  }

  /**
   * Pushes packs and the head; then sends pending delete requests (prune) to friends. Rounds run
   * one at a time (the daemon's and a `cairn replicate` may ask at once): two rounds side by side
   * would each sign a different head with the same seq, and friends rightly refuse the second.
   */
  async replicate(): Promise<ReplicateResult> {
    const round = this.replicationTail.then(async () => {
      const r = await replicateOnce(this.ctx, this.repo, this.opts.replicas);
      for (const d of await this.sendDeletes()) if (!d.sent) r.problems.push(`${d.friend} did not take our delete request for ${d.packs} packs: ${d.detail}`);
      return r;
    });
    this.replicationTail = round.catch(() => undefined);
    return round;
  }

  /** Sends each friend the delete requests queued by prune; per friend what happened. */
  async sendDeletes(): Promise<PruneResult['deleteRequests']> {
    const out: PruneResult['deleteRequests'] = [];
    for (const [peerId, packs] of await this.ledgers.deletes.outbox()) {
      const friend = await this.ledgers.friends.get(peerId);
      const name = friend?.name ?? peerId;
      const ids = [...packs.keys()];
      const bytes = [...packs.values()].reduce((a, b) => a + b, 0);
      if (!friend) {
        await this.ledgers.deletes.deletesAccepted(peerId, ids); // no longer a friend: nothing to ask
        continue;
      }
      try {
        let due = '';
        for (let i = 0; i < ids.length; i += MAX_DELETE_PACKS) {
          const seq = await this.ledgers.deletes.nextSeq(this.opts.clock.now());
          const chunk = ids.slice(i, i + MAX_DELETE_PACKS);
          const r = await requestDeletes(this.ctx, peerIdFromString(peerId), chunk, seq);
          await this.ledgers.deletes.deletesAccepted(peerId, chunk);
          due = r.dueAt;
        }
        out.push({ friend: name, packs: ids.length, bytes, sent: true, detail: `deleted there after ${due}` });
      } catch (err) {
        out.push({ friend: name, packs: ids.length, bytes, sent: false, detail: `${errorMessage(err)} (sent again at the next replication)` });
      }
    }
    return out;
  }

  /** Deletes friends' packs whose deletion grace has passed. */
  async applyDueDeletions(): Promise<number> {
    return applyDueDeletions(this.ctx);
  }
}
