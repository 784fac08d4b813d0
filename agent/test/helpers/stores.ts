// A repository on its own state database, as the composition root opens them (compose-root.ts
// createStores / openStores): the repository, the ledgers, and `close` for both.
import { createStores, type OtherReader, type Stores } from '../../src/compose-root.js';

/** A new repository in `home` with its stores open; `recoveryPhrase` its phrase. */
export async function initStores(
  home: string,
  passphrase = 'pw',
  now = new Date(),
  opts: { root?: Buffer; reader?: OtherReader } = {},
): Promise<Stores & { recoveryPhrase: string }> {
  const { stores, recoveryPhrase } = await createStores(home, passphrase, now, opts);
  return { ...stores, recoveryPhrase };
}
