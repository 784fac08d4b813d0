// The restore-drill ledger (mesh/drill.ts, SPEC 13.11): the last drill's result, and per copy (our
// pack at one friend) when a drill last read it and whether its bytes verified. LevelDB sublevel
// `drills` (state/db.ts). The status reads "last proved" from here and from the challenge ledger.
import type { DrillResult } from '../../../protocol/api.js';
import type { Sublevels } from '../state/db.js';

/** A copy as the last drill that read it found it. */
export interface DrilledCopy {
  atMs: number;
  ok: boolean;
  reason: string | null;
}

const LAST = 'last';
const COPY = 'copy!';

export class DrillLedger {
  private readonly s: Pick<Sublevels, 'drills'>;

  constructor(state: Pick<Sublevels, 'drills'>) {
    this.s = state;
  }

  async last(): Promise<DrillResult | undefined> {
    const v = await this.s.drills.get(LAST);
    return v === undefined ? undefined : (JSON.parse(v) as DrillResult);
  }

  /**
   * Records a finished drill: its result, and each copy it read (`copies`: friend PeerId -> pack ID
   * -> verdict), in one batch; copies of packs no longer in `livePacks` are dropped, so the ledger
   * stays as large as the copies are.
   */
  async record(result: DrillResult, copies: ReadonlyMap<string, ReadonlyMap<string, DrilledCopy>>, livePacks: ReadonlySet<string>): Promise<void> {
    const ops: Array<{ type: 'put'; key: string; value: string } | { type: 'del'; key: string }> = [{ type: 'put', key: LAST, value: JSON.stringify(result) }];
    for (const [peerId, packs] of copies)
      for (const [packId, c] of packs) ops.push({ type: 'put', key: `${COPY}${peerId}!${packId}`, value: JSON.stringify(c) });
    for await (const k of this.s.drills.keys({ gte: COPY, lt: `${COPY}~` })) {
      const packId = k.slice(k.lastIndexOf('!') + 1);
      if (!livePacks.has(packId)) ops.push({ type: 'del', key: k });
    }
    await this.s.drills.batch(ops);
  }

  /** friend PeerId -> pack ID -> how the last drill that read that copy found it. */
  async copies(): Promise<Map<string, Map<string, DrilledCopy>>> {
    const out = new Map<string, Map<string, DrilledCopy>>();
    for await (const [k, v] of this.s.drills.iterator({ gte: COPY, lt: `${COPY}~` })) {
      const [peerId, packId] = k.slice(COPY.length).split('!') as [string, string];
      let m = out.get(peerId);
      if (!m) out.set(peerId, (m = new Map()));
      m.set(packId, JSON.parse(v) as DrilledCopy);
    }
    return out;
  }
}
