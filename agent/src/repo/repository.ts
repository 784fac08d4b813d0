// The repository engine: keys, config, the pack store, the blob index and the snapshot list.
// Commit order: data packs -> index -> tree packs -> index -> snapshot blob -> snapshot record
// (LevelDB, sync). A crash at any point leaves every committed snapshot readable; an unfinished
// one never appears (its packs are merely unreferenced).
import { randomBytes } from 'node:crypto';
import { access, mkdir, readFile } from 'node:fs/promises';
import { FastCdc, gearTable } from '../chunker/fastcdc.js';
import { DEFAULT_CHUNKER, parseChunkerName } from '../chunker/params.js';
import { open as openSealed } from '../crypto/aead.js';
import { blobId } from '../crypto/ids.js';
import { deriveKeys, repoIdFromRoot, ROOT_SECRET_BYTES, type RepoKeys } from '../crypto/kdf.js';
import { makeKeyFile, parseKeyFile, unlockKeyFile } from '../crypto/key-file.js';
import { rootToPhrase } from '../crypto/phrase.js';
import { LocalPackStore } from '../store/local-pack-store.js';
import type { EngineState, StateOp } from '../state/db.js';
import { VolumeFileCache } from '../state/volume-file-cache.js';
import { CairnError, CorruptionError, UsageError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fsx.js';
import { writeError } from '../util/write-errors.js';
import { blobAd, BLOB_TYPE_NAMES, BlobType } from './blob.js';
import { decompress } from './compress.js';
import { homePaths, type HomePaths } from './home.js';
import { BlobIndex, type IndexEntry } from './index.js';
import { FLAG_ZSTD } from './pack-format.js';
import { Packer } from './packer.js';
import { PackWindows } from './pack-windows.js';
import { SealPool } from './seal-pool.js';
import type { PackReader, RepositoryOptions } from './pack-reader.js';
import { parseSnapshotBlob } from './snapshot-blob.js';
import { describeFilter, matchesFilter } from './snapshot-filter.js';
import { RepoWriteLock } from './write-lock.js';
import type { Snapshot } from '../../../protocol/snapshot.js';
import type { SnapshotFilter } from '../../../protocol/api.js';

export const REPO_CONFIG_VERSION = 1;
/** LevelDB write options that fsync the log before returning (classic-level honours `sync`). */
const SYNC = { sync: true } as object;

export interface RepoConfig {
  version: number;
  repoId: string;
  chunker: string;
  createdAt: string;
}

/** A repository's config and keys, read and unlocked (Repository.unlock or .create), before its state is opened. */
export interface UnlockedRepo {
  paths: HomePaths;
  config: RepoConfig;
  keys: RepoKeys;
}

export interface SavedBlob {
  id: string;
  /** Sealed bytes added to the repository; 0 when the blob was already there. */
  addedBytes: number;
}

export class Repository {
  readonly paths: HomePaths;
  readonly config: RepoConfig;
  readonly keys: RepoKeys;
  /** Where packs are written: the local pack directory. */
  readonly store: LocalPackStore;
  /** The reader handed in at open (friends' copies while the mesh runs), when there is one now. */
  private readonly otherReader: (() => PackReader | undefined) | undefined;
  readonly index: BlobIndex;
  readonly chunker: FastCdc;
  /** The engine's sublevels of the state database, and its root for synced batches (handed in at open; the opener closes it). */
  private readonly state: EngineState;
  private readonly packer: Packer;
  /** Blobs on their way into a pack: known for dedup, not yet indexed. */
  private readonly pending = new Set<string>();
  /** Held by every operation that writes the repository; a failed one's unwritten blobs are abandoned. */
  readonly writeLock: RepoWriteLock = new RepoWriteLock(this);
  private sealPool: SealPool | undefined;

  /** The unchanged-file cache of volumes read through their mountpoint (state/volume-file-cache.ts), for the archiver. */
  get volumeFiles(): VolumeFileCache {
    return new VolumeFileCache(this.state.volumeFiles);
  }

  /** Where packs are read from now: the reader handed in at open while it has one (local first, then friends), else the local store. */
  get reader(): PackReader {
    return this.otherReader?.() ?? this.store;
  }

  private constructor({ paths, config, keys }: UnlockedRepo, store: LocalPackStore, state: EngineState, index: BlobIndex, opts: RepositoryOptions) {
    this.paths = paths;
    this.config = config;
    this.keys = keys;
    this.store = store;
    this.otherReader = opts.reader;
    this.state = state;
    this.index = index;
    this.packer = new Packer(store, this.index, keys.meta);
    this.chunker = new FastCdc(parseChunkerName(config.chunker), gearTable(keys.chunker));
  }

  /**
   * Writes a new repository's key file and config in `home` (E_EXISTS when there is one); returns
   * it unlocked, with the recovery phrase (shown once). Repository.open opens it on the state.
   */
  static async create(
    home: string,
    passphrase: string,
    now: Date,
    root: Buffer = randomBytes(ROOT_SECRET_BYTES),
  ): Promise<{ unlocked: UnlockedRepo; recoveryPhrase: string }> {
    const paths = homePaths(home);
    if (await exists(paths.config)) throw new UsageError(`a repository already exists in ${paths.repo}; refusing to overwrite it`, 'E_EXISTS');
    await mkdir(paths.repo, { recursive: true, mode: 0o700 });
    const repoId = repoIdFromRoot(root);
    const config: RepoConfig = { version: REPO_CONFIG_VERSION, repoId, chunker: DEFAULT_CHUNKER, createdAt: now.toISOString() };
    await writeFileAtomic(paths.keyFile, Buffer.from(JSON.stringify(await makeKeyFile(root, repoId, passphrase), null, 2) + '\n'));
    await writeFileAtomic(paths.config, Buffer.from(JSON.stringify(config, null, 2) + '\n'));
    return { unlocked: { paths, config, keys: deriveKeys(root) }, recoveryPhrase: rootToPhrase(root) };
  }

  /** Reads the config of `home`'s repository and unlocks its key file with `passphrase` (nothing is opened yet). */
  static async unlock(home: string, passphrase: string): Promise<UnlockedRepo> {
    return (await Repository.unlocking(home, passphrase)).unlocked;
  }

  /**
   * Reads the config and key file of `home`'s repository (errors when there is none) and starts
   * unlocking the key file with `passphrase`: Argon2id runs on one of libuv's threads, and
   * `unlocked` settles when it is done (WrongPassphraseError for a wrong one). Meanwhile the caller
   * may open the state and load the index, which need no key (Repository.open takes the promise).
   */
  static async unlocking(home: string, passphrase: string): Promise<{ paths: HomePaths; unlocked: Promise<UnlockedRepo> }> {
    const paths = homePaths(home);
    const config = await readConfig(paths);
    let keyText: string;
    try {
      keyText = await readFile(paths.keyFile, 'utf8');
    } catch {
      throw new CairnError('E_KEYFILE', `key file ${paths.keyFile} is missing; recover with the recovery phrase`);
    }
    const keyFile = parseKeyFile(keyText, paths.keyFile);
    const unlocked = unlockKeyFile(keyFile, passphrase, paths.keyFile).then((root) => {
      if (repoIdFromRoot(root) !== config.repoId)
        throw new CairnError('E_KEYFILE', `key file ${paths.keyFile} belongs to another repository than ${paths.config}`);
      return { paths, config, keys: deriveKeys(root) };
    });
    // settled later by whoever awaits it; until then a rejection must not count as unhandled
    unlocked.catch(() => undefined);
    return { paths, unlocked };
  }

  /**
   * Opens an unlocked repository on `state` (the engine's part of the state database, opened and
   * later closed by the caller: the composition root); `opts.reader`: where packs missing locally
   * come from (friends). Given the unlocking still under way (Repository.unlocking), the index loads
   * meanwhile; a failed unlock is thrown before any error of the index.
   */
  static async open(unlocked: UnlockedRepo | Promise<UnlockedRepo>, state: EngineState, opts: RepositoryOptions = {}): Promise<Repository> {
    const index = new BlobIndex(state.index);
    const [u, loaded] = await Promise.allSettled([unlocked, index.load()]);
    if (u.status === 'rejected') throw u.reason;
    if (loaded.status === 'rejected') throw loaded.reason;
    const store = new LocalPackStore(u.value.paths.packs);
    await store.open();
    return new Repository(u.value, store, state, index, opts);
  }

  /** Worker threads for compress + seal, started on the first write. */
  private sealer(): SealPool {
    this.sealPool ??= new SealPool();
    return this.sealPool;
  }

  /** Stops the seal workers and closes the pack store; the state database stays open (its opener closes it, after this). */
  async close(): Promise<void> {
    await this.sealPool?.close();
    await this.store.close();
  }

  /** True when the blob is stored or on its way into a pack. */
  known(id: string): boolean {
    return this.index.has(id) || this.pending.has(id);
  }

  blobIdOf(data: Uint8Array): string {
    return blobId(this.keys.ids, data);
  }

  /** Stores a blob unless the repository already has it. */
  async saveBlob(type: BlobType, data: Buffer, knownId?: string): Promise<SavedBlob> {
    const id = knownId ?? this.blobIdOf(data);
    if (this.known(id)) return { id, addedBytes: 0 };
    this.pending.add(id);
    const rawLength = data.length;
    const key = type === BlobType.data ? this.keys.data : this.keys.meta;
    // `data` may be handed to a worker thread (transferred): do not use it after this line
    const { flags, sealed } = await this.sealer().run(type, id, data, key);
    await this.packer.add(type, id, flags, rawLength, sealed);
    return { id, addedBytes: sealed.length };
  }

  /** Windows over the local packs for one pass that loads many blobs lying close together (a backup's parent trees): see loadBlob. */
  packWindows(): PackWindows {
    return new PackWindows((packId, offset, length) => this.store.readAtMost(packId, offset, length));
  }

  /**
   * Reads, authenticates, decompresses and re-verifies one blob. With `windows`, its bytes come out
   * of a window over the local pack when they can; when they cannot, or they fail verification, it
   * is read as without.
   */
  async loadBlob(id: string, type: BlobType, windows?: PackWindows): Promise<Buffer> {
    const entry = this.index.get(id);
    if (!entry) throw new CorruptionError(`${BLOB_TYPE_NAMES[type]} blob ${id} is not in the index`);
    const windowed = windows ? await windows.get(entry.packId, entry.offset, entry.sealedLength) : undefined;
    if (windowed) {
      try {
        return this.openBlob(id, type, entry, windowed);
      } catch (err) {
        if (!(err instanceof CorruptionError)) throw err;
        windows?.forget(entry.packId);
      }
    }
    const reader = this.reader;
    const sealed = await reader.getRange(entry.packId, entry.offset, entry.sealedLength);
    try {
      return this.openBlob(id, type, entry, sealed);
    } catch (err) {
      // A damaged local copy: a reader that can fetch a fresh one from friends gets one chance.
      if (!(err instanceof CorruptionError) || !reader.refetch) throw err;
      await reader.refetch(entry.packId);
      return this.openBlob(id, type, entry, await reader.getRange(entry.packId, entry.offset, entry.sealedLength));
    }
  }

  /** Verifies a sealed blob read from `entry.packId` and returns its plaintext. */
  openBlob(id: string, type: BlobType, entry: IndexEntry, sealed: Buffer): Buffer {
    const what = `pack ${entry.packId}: ${BLOB_TYPE_NAMES[type]} blob ${id}`;
    if (entry.type !== type) throw new CorruptionError(`${what} is indexed as ${BLOB_TYPE_NAMES[entry.type]}`, entry.packId);
    const key = type === BlobType.data ? this.keys.data : this.keys.meta;
    const payload = openSealed(key, sealed, blobAd(type, id));
    if (!payload) throw new CorruptionError(`${what} fails authentication (damaged or replaced)`, entry.packId);
    const data = entry.flags & FLAG_ZSTD ? decompress(payload, entry.rawLength, what) : payload;
    if (data.length !== entry.rawLength || this.blobIdOf(data) !== id) throw new CorruptionError(`${what} does not match its ID`, entry.packId);
    return data;
  }

  /** Puts an already sealed blob into a new pack (prune's repacking); the index follows once the pack is durable. */
  async addSealedBlob(id: string, entry: IndexEntry, sealed: Buffer): Promise<void> {
    await this.packer.add(entry.type, id, entry.flags, entry.rawLength, sealed);
  }

  /** Packs and bytes this repository object has written so far. */
  packStats(): { packsWritten: number; packedBytes: number } {
    return { packsWritten: this.packer.packsWritten, packedBytes: this.packer.packedBytes };
  }

  /** A pack write failed and the operation that met it has not been abandoned yet. */
  get writeFailed(): boolean {
    return this.packer.failed;
  }

  /**
   * Abandons an unfinished operation's writes: blobs not yet in a written pack are dropped and no
   * longer count as stored (pending), and a write failure no longer fails the next operation.
   */
  async abandonWrites(): Promise<void> {
    // cleared in the same step as the open packs are dropped: a pending blob was in one of them
    await this.packer.abandon(() => this.pending.clear());
  }

  /** Makes every saved blob durable and indexed. */
  async flush(): Promise<void> {
    await this.packer.flush();
    this.pending.clear();
  }

  /** Flushes, then records the snapshot; the snapshot exists only once this returns. */
  async commitSnapshot(snapshot: Snapshot): Promise<string> {
    await this.flush();
    const text = JSON.stringify(snapshot);
    const { id } = await this.saveBlob(BlobType.snapshot, Buffer.from(text));
    await this.flush();
    await this.state.db.batch([{ type: 'put', sublevel: this.state.snapshots, key: id, value: text }], SYNC);
    return id;
  }

  /**
   * Forgets blobs (prune) in one synced LevelDB batch, together with `also` (prune: the delete
   * requests for friends holding the packs that go), so a crash leaves both or neither.
   */
  async forgetBlobs(ids: string[], also: StateOp[] = []): Promise<void> {
    if (ids.length === 0 && also.length === 0) return;
    try {
      await this.state.db.batch([...this.index.removeOps(ids), ...also], SYNC);
    } catch (err) {
      throw writeError('the index (forgetting pruned blobs)', err);
    }
    this.index.forgotten(ids);
  }

  /** Records a snapshot whose blob is already stored (recovery); a version this agent cannot read is refused. */
  async putSnapshotRecord(id: string, json: Buffer): Promise<void> {
    parseSnapshotBlob(id, json.toString('utf8'));
    await this.state.db.batch([{ type: 'put', sublevel: this.state.snapshots, key: id, value: json.toString('utf8') }], SYNC);
  }

  /**
   * Removes snapshot records in one synced batch (forget). Only the records go: their blobs stay
   * until prune, and the next head sent to friends no longer lists them, so recovery cannot bring
   * them back. Refuses (and removes nothing) when an ID is unknown or pinned.
   */
  async removeSnapshots(ids: string[]): Promise<void> {
    const unique = [...new Set(ids)];
    for (const id of unique) {
      if ((await this.state.snapshots.get(id)) === undefined) throw new CairnError('E_NO_SNAPSHOT', `no snapshot ${id} in this repository`);
      if ((await this.state.pins.get(id)) !== undefined) throw new CairnError('E_PINNED', `snapshot ${id.slice(0, 8)} is pinned: unpin it first`);
    }
    if (unique.length === 0) return;
    await this.state.db.batch(
      unique.map((id) => ({ type: 'del' as const, sublevel: this.state.snapshots, key: id })),
      SYNC,
    );
  }

  /**
   * Replaces snapshots by rewritten ones (`cairn tag`): each new snapshot blob is stored and made
   * durable and indexed first, then one synced batch puts the new records, deletes the old ones and
   * moves their pins. A crash before the batch leaves the old snapshots (the new blobs merely
   * unreferenced until prune); after it, the new ones: never both, never neither. Returns the new IDs.
   */
  async replaceSnapshots(changes: Array<{ oldId: string; snapshot: Snapshot }>): Promise<string[]> {
    const ops: StateOp[] = [];
    const ids: string[] = [];
    for (const { oldId, snapshot } of changes) {
      if ((await this.state.snapshots.get(oldId)) === undefined) throw new CairnError('E_NO_SNAPSHOT', `no snapshot ${oldId} in this repository`);
      const text = JSON.stringify(snapshot);
      const { id } = await this.saveBlob(BlobType.snapshot, Buffer.from(text));
      ids.push(id);
      if (id === oldId) continue;
      ops.push({ type: 'put', sublevel: this.state.snapshots, key: id, value: text }, { type: 'del', sublevel: this.state.snapshots, key: oldId });
      const pin = await this.state.pins.get(oldId);
      if (pin !== undefined) ops.push({ type: 'put', sublevel: this.state.pins, key: id, value: pin }, { type: 'del', sublevel: this.state.pins, key: oldId });
    }
    await this.flush(); // the new snapshot blobs are durable and indexed before any record names them
    if (ops.length > 0) await this.state.db.batch(ops, SYNC);
    return ids;
  }

  /** Pinned snapshot IDs -> when they were pinned (ISO). */
  async pins(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for await (const [id, json] of this.state.pins.iterator()) out.set(id, (JSON.parse(json) as { pinnedAt: string }).pinnedAt);
    return out;
  }

  /** Pins a snapshot; returns when it was pinned (the first time, if it already was). */
  async pinSnapshot(id: string, now: Date): Promise<{ pinnedAt: string; already: boolean }> {
    if ((await this.state.snapshots.get(id)) === undefined) throw new CairnError('E_NO_SNAPSHOT', `no snapshot ${id} in this repository`);
    const prev = await this.state.pins.get(id);
    if (prev !== undefined) return { pinnedAt: (JSON.parse(prev) as { pinnedAt: string }).pinnedAt, already: true };
    const pinnedAt = now.toISOString();
    await this.state.db.batch([{ type: 'put', sublevel: this.state.pins, key: id, value: JSON.stringify({ pinnedAt }) }], SYNC);
    return { pinnedAt, already: false };
  }

  /** Unpins a snapshot; returns false when it was not pinned. */
  async unpinSnapshot(id: string): Promise<boolean> {
    if ((await this.state.pins.get(id)) === undefined) return false;
    await this.state.db.batch([{ type: 'del', sublevel: this.state.pins, key: id }], SYNC);
    return true;
  }

  async listSnapshots(): Promise<Array<{ id: string; snapshot: Snapshot }>> {
    const out: Array<{ id: string; snapshot: Snapshot }> = [];
    for await (const [id, json] of this.state.snapshots.iterator()) out.push({ id, snapshot: JSON.parse(json) as Snapshot });
    return out.sort((a, b) => a.snapshot.time.localeCompare(b.snapshot.time) || a.id.localeCompare(b.id));
  }

  /**
   * Resolves `latest` (the newest snapshot `filter` matches), a full ID or a unique prefix of at
   * least 8 hex characters (an ID that the filter does not match is refused).
   */
  async resolveSnapshot(ref: string, filter?: SnapshotFilter): Promise<{ id: string; snapshot: Snapshot }> {
    const all = await this.listSnapshots();
    if (ref === 'latest') {
      const last = all.filter((s) => matchesFilter(s.snapshot, filter)).at(-1);
      if (!last && all.length > 0) throw new CairnError('E_NO_SNAPSHOT', `no snapshot matches ${describeFilter(filter)}`);
      if (!last) throw new CairnError('E_NO_SNAPSHOT', 'the repository has no snapshots yet');
      return last;
    }
    if (!/^[0-9a-f]{8,64}$/.test(ref)) throw new UsageError(`"${ref}" is not a snapshot ID (use "latest" or at least 8 hex characters)`, 'E_BAD_SNAPSHOT_ID');
    const matches = all.filter((s) => s.id.startsWith(ref));
    if (matches.length === 0) throw new CairnError('E_NO_SNAPSHOT', `no snapshot ${ref} in this repository`);
    if (matches.length > 1) throw new UsageError(`snapshot prefix ${ref} is ambiguous: it matches ${matches.length} snapshots`, 'E_AMBIGUOUS');
    const found = matches[0] as { id: string; snapshot: Snapshot };
    if (!matchesFilter(found.snapshot, filter)) throw new CairnError('E_NO_SNAPSHOT', `snapshot ${ref} does not match ${describeFilter(filter)}`);
    return found;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function readConfig(paths: HomePaths): Promise<RepoConfig> {
  let text: string;
  try {
    text = await readFile(paths.config, 'utf8');
  } catch {
    throw new UsageError(`no repository in ${paths.home} (run "cairn init" first, or set CAIRN_HOME)`, 'E_NO_REPO');
  }
  let config: RepoConfig;
  try {
    config = JSON.parse(text) as RepoConfig;
  } catch {
    throw new CairnError('E_REPO_CONFIG', `repository config ${paths.config} is not valid JSON`);
  }
  if (config.version !== REPO_CONFIG_VERSION || typeof config.repoId !== 'string' || typeof config.chunker !== 'string') {
    throw new CairnError('E_REPO_CONFIG', `repository config ${paths.config} has an unknown version or missing fields`);
  }
  return config;
}
