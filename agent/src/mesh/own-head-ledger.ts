// Our newest signed head (head-chain.ts makes it, recover.ts takes a friend's newer one): the
// singleton "head" in the `meta` sublevel (state/db.ts), written synced.
import type { SignedHead } from '../../../protocol/mesh.js';
import type { Sublevels } from '../state/db.js';
import { DURABLE } from './ledger-writes.js';

const HEAD = 'head';

export class OwnHead {
  private readonly s: Pick<Sublevels, 'meta'>;

  constructor(state: Pick<Sublevels, 'meta'>) {
    this.s = state;
  }

  async get(): Promise<SignedHead | undefined> {
    const v = await this.s.meta.get(HEAD);
    return v === undefined ? undefined : (JSON.parse(v) as SignedHead);
  }

  async save(s: SignedHead): Promise<void> {
    await this.s.meta.put(HEAD, JSON.stringify(s), DURABLE);
  }
}
