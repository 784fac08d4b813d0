// What every command gets: global options, and opening the repository in CAIRN_HOME.
import { resolve } from 'node:path';
import { defaultHome } from '../repo/home.js';
import { Repository } from '../repo/repository.js';
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

export async function withRepo<T>(ctx: Context, fn: (repo: Repository) => Promise<T>): Promise<T> {
  const passphrase = await getPassphrase({ ...(ctx.passphraseFile ? { passphraseFile: ctx.passphraseFile } : {}) });
  const repo = await Repository.open(ctx.home, passphrase);
  try {
    return await fn(repo);
  } finally {
    await repo.close();
  }
}
