// What every command gets: global options, and a way to run an operation: through the running
// agent's API when one holds this home, else by opening the home directly.
import { resolve } from 'node:path';
import { defaultHome } from '../repo/home.js';
import { Repository } from '../repo/repository.js';
import type { Services } from '../ops/services.js';
import { systemClock, type Clock } from '../util/clock.js';
import { getPassphrase } from './passphrase.js';

export interface GlobalOptions {
  json?: boolean;
  debug?: boolean;
  passphraseFile?: string;
  home?: string;
}

export interface Context {
  home: string;
  json: boolean;
  clock: Clock;
  passphraseFile: string | undefined;
}

export function makeContext(opts: GlobalOptions): Context {
  return { home: opts.home ? resolve(opts.home) : defaultHome(), json: opts.json === true, clock: systemClock, passphraseFile: opts.passphraseFile };
}

export async function passphraseFor(ctx: Context, confirm = false): Promise<string> {
  return getPassphrase({ ...(ctx.passphraseFile ? { passphraseFile: ctx.passphraseFile } : {}), confirm });
}

/** Opens the home directly for the duration of `fn`. */
export async function withServices<T>(ctx: Context, fn: (svc: Services) => Promise<T>): Promise<T> {
  const repo = await Repository.open(ctx.home, await passphraseFor(ctx));
  try {
    return await fn({ home: ctx.home, repo, clock: ctx.clock });
  } finally {
    await repo.close();
  }
}
