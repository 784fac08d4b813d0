// A friend in the test process: a real libp2p node (TCP on loopback) paired with a real agent by
// invite, keeping the agent's packs in memory and answering pack-put, pack-list and challenges as
// the test says: honestly, replaying the last answer it gave for a pack, forging answers without
// the bytes, claiming pushed packs without taking them, or stalling (to kill the agent meanwhile).
import { createHash } from 'node:crypto';
import type { Libp2p, Stream } from '@libp2p/interface';
import {
  MAX_LIST_PAGE,
  PACK_FRAME_BYTES,
  parseChallengeRequest,
  parsePackListRequest,
  parsePackPutRequest,
  PROTOCOLS,
  type ChallengeRequest,
} from '../../../protocol/mesh.js';
import { serve } from '../../src/mesh/framing.js';
import type { TestAgent } from './agents.js';
import { pairNode, startWireNode } from './mesh-wire.js';

export type AnswerMode = 'honest' | 'replay' | 'forge' | 'stall';
type Event = 'challenge' | 'recheck';

export class TestFriend {
  readonly node: Libp2p;
  /** Pack bytes it really keeps. */
  readonly packs = new Map<string, Buffer>();
  /** Packs it says it holds (pack-list, pack-put): those kept, and any claimed without the bytes. */
  readonly claimed = new Set<string>();
  answer: AnswerMode = 'honest';
  /** Answer pack-puts "have" without taking the bytes. */
  claimWithoutData = false;
  /** Hold a pack-put marked recheck until stopped (or `release()`). */
  stallRecheck = false;
  readonly challenges: ChallengeRequest[] = [];
  readonly rechecks: string[] = [];
  private readonly lastAnswer = new Map<string, string>();
  private readonly waiting: Array<{ what: Event; resolve: () => void }> = [];
  private stalls = new AbortController();

  private constructor(node: Libp2p) {
    this.node = node;
  }

  static async start(): Promise<TestFriend> {
    const f = new TestFriend((await startWireNode()).node);
    await f.node.handle(PROTOCOLS.packPut, (s) => f.packPut(s));
    await f.node.handle(PROTOCOLS.packList, (s) => f.packList(s));
    await f.node.handle(PROTOCOLS.challenge, (s) => f.challenge(s));
    return f;
  }

  /** Pairs with `agent` (its invite), offering it `grantBytes`. */
  async pairWith(agent: TestAgent, name: string, grantBytes = 1024 ** 3): Promise<void> {
    const { code } = await agent.cli<{ code: string }>(['invite', '--quota', '1G']);
    const r = await pairNode(this.node, code, name, grantBytes);
    if (r.kind !== 'reply' || (r.value as { ok?: boolean }).ok !== true) throw new Error(`pairing failed: ${JSON.stringify(r)}`);
  }

  /** Stops serving the challenge protocol (as an agent older than it, or one that will not be audited). */
  async refuseChallenges(): Promise<void> {
    await this.node.unhandle(PROTOCOLS.challenge);
  }

  /** Forgets the bytes but keeps saying it holds them. */
  dropData(): void {
    this.packs.clear();
  }

  /** Resolves at the next challenge (or recheck push) that arrives. */
  next(what: Event): Promise<void> {
    return new Promise((resolve) => this.waiting.push({ what, resolve }));
  }

  /** Lets every stalled exchange end. */
  release(): void {
    this.stalls.abort();
    this.stalls = new AbortController();
  }

  async stop(): Promise<void> {
    this.release();
    await this.node.stop();
  }

  private notify(what: Event): void {
    for (const w of this.waiting.filter((x) => x.what === what)) {
      this.waiting.splice(this.waiting.indexOf(w), 1);
      w.resolve();
    }
  }

  private stall(): Promise<void> {
    const signal = this.stalls.signal;
    return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  }

  private packPut(stream: Stream): Promise<void> {
    return serve(
      stream,
      async (f) => {
        const req = parsePackPutRequest(await f.readJson());
        if (req.recheck) {
          this.rechecks.push(req.packId);
          this.notify('recheck');
          if (this.stallRecheck) return this.stall();
        }
        if (this.packs.has(req.packId) || this.claimWithoutData) {
          this.claimed.add(req.packId);
          return f.writeJson({ ok: true, have: true });
        }
        await f.writeJson({ ok: true, have: false });
        const parts: Buffer[] = [];
        await f.receiveWindowed(req.sizeBytes, async (ps) => {
          for (const p of ps) parts.push(Buffer.from(p));
        });
        const bytes = Buffer.concat(parts);
        if (createHash('sha256').update(bytes).digest('hex') !== req.packId) throw new Error('bad pack');
        this.packs.set(req.packId, bytes);
        this.claimed.add(req.packId);
        await f.writeJson({ ok: true, storedBytes: bytes.length });
      },
      { receivesPacks: true },
    );
  }

  private packList(stream: Stream): Promise<void> {
    return serve(stream, async (f) => {
      const req = parsePackListRequest(await f.readJson());
      const ids = [...this.claimed].sort().filter((id) => req.after === undefined || id > req.after);
      const page = ids.slice(0, MAX_LIST_PAGE).map((id) => ({ id, sizeBytes: this.packs.get(id)?.length ?? PACK_FRAME_BYTES }));
      await f.writeJson({ ok: true, packs: page, more: ids.length > MAX_LIST_PAGE });
    });
  }

  private challenge(stream: Stream): Promise<void> {
    return serve(stream, async (f) => {
      const req = parseChallengeRequest(await f.readJson());
      this.challenges.push(req);
      this.notify('challenge');
      if (this.answer === 'stall') return this.stall();
      const nonce = Buffer.from(req.nonce, 'hex');
      let digest: string | undefined;
      if (this.answer === 'honest') {
        const bytes = this.packs.get(req.packId);
        if (bytes) {
          const h = createHash('sha256').update(nonce);
          for (const r of req.ranges) h.update(bytes.subarray(r.offset, r.offset + r.length));
          digest = h.digest('hex');
        }
      } else if (this.answer === 'replay') digest = this.lastAnswer.get(req.packId);
      if (this.answer === 'forge' || (this.answer === 'replay' && digest === undefined && this.claimed.has(req.packId)))
        digest = createHash('sha256').update(nonce).update(req.packId).digest('hex'); // made up, without the bytes
      if (digest === undefined) return f.writeJson({ ok: true, held: false });
      this.lastAnswer.set(req.packId, digest);
      await f.writeJson({ ok: true, held: true, digest });
    });
  }
}
