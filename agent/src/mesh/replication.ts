// The replication service: rounds of replicator.ts, one at a time (the daemon's and a `cairn
// replicate` may ask at once: two rounds side by side would each sign a different head with the
// same seq, and friends rightly refuse the second), each followed by the delete requests pending.
// Storage challenges ride on the rounds (challenger.ts): each round carries the rotation's few, and
// `cairn audit` asks for a round that challenges everything.
import type { AuditFriend, ReplicateResult } from '../../../protocol/api.js';
import type { Repository } from '../repo/repository.js';
import { errorMessage } from '../util/errors.js';
import type { MeshContext } from './context.js';
import type { Deletion } from './deletion.js';
import type { AuditSettings } from './challenge-rotation.js';
import { Challenger, type ChallengeMode } from './challenger.js';
import type { SettingsSource } from './head-settings.js';
import { replicateOnce, type RoundChallenges } from './replicator.js';
import type { Startable } from './service.js';

export class Replication implements Startable {
  /** Copies of each pack wanted at friends (before capping by the number of friends); follows the config. */
  replicas: number;
  /** A friend unreachable for longer than this stops counting (repair.ts); follows the config. */
  repairAfterMs: number;
  /** The owner's settings each head carries (the agent's); absent: heads keep the previous head's. */
  settings: SettingsSource | undefined;
  /** Where a settings file too large for a head is said. */
  log: ((line: string) => void) | undefined;
  private readonly ctx: MeshContext;
  private readonly repo: Repository;
  private readonly deletion: Deletion;
  readonly challenger: Challenger;
  /** The last replication round asked for; the next one starts after it. */
  private tail: Promise<unknown> = Promise.resolve();
  /** When the newest round that has finished began (ms; null before the first): packs written before then were tried (the 3-2-1 status). */
  lastRoundStartedAt: number | null = null;

  constructor(
    ctx: MeshContext,
    repo: Repository,
    deletion: Deletion,
    replicas: number,
    audit: AuditSettings,
    repairAfterMs: number,
    head: { settings?: SettingsSource; log?: (line: string) => void } = {},
  ) {
    this.ctx = ctx;
    this.settings = head.settings;
    this.log = head.log;
    this.repairAfterMs = repairAfterMs;
    this.repo = repo;
    this.deletion = deletion;
    this.replicas = replicas;
    this.challenger = new Challenger(ctx, repo, audit);
  }

  async start(): Promise<void> {}

  /** Waits for the round in progress (every exchange in it has a deadline). */
  async stop(): Promise<void> {
    await this.tail;
  }

  /** Pushes packs and the head; then sends pending delete requests (prune) to friends. */
  async replicate(signal?: AbortSignal): Promise<ReplicateResult> {
    return (await this.round({ kind: 'rotation' }, signal)).result;
  }

  /** A round that challenges every pack at every friend (or at `peerId`), then replicates as any round. */
  async audit(peerId?: string): Promise<{ result: ReplicateResult; reports: AuditFriend[] }> {
    return this.round({ kind: 'all', ...(peerId !== undefined ? { peerId } : {}) });
  }

  private async round(mode: ChallengeMode, signal?: AbortSignal): Promise<{ result: ReplicateResult; reports: AuditFriend[] }> {
    const challenges: RoundChallenges = { challenger: this.challenger, mode };
    const round = this.tail.then(async () => {
      const startedAt = this.ctx.clock.now();
      // a settings file that cannot be read leaves the previous head's (never fails the round)
      const settings = await this.settings?.().catch((err: unknown) => {
        this.log?.(`head: cannot read the settings it carries: ${errorMessage(err)}`);
        return undefined;
      });
      const r = await replicateOnce(
        this.ctx,
        this.repo,
        this.replicas,
        challenges,
        this.repairAfterMs,
        {
          ...(settings ? { settings } : {}),
          ...(this.log ? { log: this.log } : {}),
        },
        signal,
      );
      this.lastRoundStartedAt = startedAt;
      for (const d of await this.deletion.sendDeletes())
        if (!d.sent) r.problems.push(`${d.friend} did not take our delete request for ${d.packs} packs: ${d.detail}`);
      return { result: r, reports: challenges.reports ?? [] };
    });
    this.tail = round.catch(() => undefined);
    return round;
  }
}
