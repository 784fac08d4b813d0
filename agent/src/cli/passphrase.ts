// Where the passphrase comes from: CAIRN_PASSPHRASE, --passphrase-file, or a prompt on a TTY.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { passphraseThatOpens } from '../ops/keys.js';
import { UsageError } from '../util/errors.js';

/** Asks on the terminal with echo off (raw mode: the typed characters are never written back). */
export async function promptHidden(question: string): Promise<string> {
  const { stdin, stderr } = process;
  // echo off before the question appears: what is typed (or pasted) after it is never echoed
  stdin.setRawMode?.(true);
  stderr.write(question);
  stdin.resume();
  let answer = '';
  try {
    return await new Promise<string>((resolve, reject) => {
      const onData = (buf: Buffer) => {
        for (const ch of buf.toString('utf8')) {
          if (ch === '\r' || ch === '\n') {
            stdin.off('data', onData);
            resolve(answer);
            return;
          }
          if (ch === '\u0003') {
            stdin.off('data', onData);
            reject(new UsageError('cancelled'));
            return;
          }
          if (ch === '\u007f') answer = answer.slice(0, -1);
          else answer += ch;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode?.(false);
    stdin.pause();
    stderr.write('\n');
  }
}

/** A passphrase file kept in the home by unattended first-start setup (npm start without a TTY). */
export function homePassphraseFile(home: string): string {
  return join(home, 'passphrase');
}

export async function getPassphrase(opts: { home?: string; passphraseFile?: string; confirm?: boolean }): Promise<string> {
  const homeFile = opts.home ? homePassphraseFile(opts.home) : undefined;
  const passphraseFile = opts.passphraseFile ?? (homeFile && !process.env.CAIRN_PASSPHRASE && existsSync(homeFile) ? homeFile : undefined);
  if (passphraseFile) {
    opts = { ...opts, passphraseFile };
    let text: string;
    try {
      text = await readFile(passphraseFile, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read passphrase file ${opts.passphraseFile}: ${(err as Error).message}`);
    }
    const [line = '', next = ''] = text.split('\n');
    if (!line) throw new UsageError(`passphrase file ${opts.passphraseFile} is empty`);
    // the home's own file holds two lines only while a passphrase change is under way (ops/keys.ts
    // changePassphrase): after a crash there, the line that opens the key file is the passphrase
    if (passphraseFile === homeFile && next !== '' && opts.home) return await passphraseThatOpens(opts.home, line, next);
    return line;
  }
  const env = process.env.CAIRN_PASSPHRASE;
  if (env !== undefined && env !== '') return env;
  if (!process.stdin.isTTY) throw new UsageError('no passphrase: set CAIRN_PASSPHRASE, use --passphrase-file FILE, or run on a terminal to be asked');
  const first = await promptHidden('Passphrase: ');
  if (!first) throw new UsageError('the passphrase must not be empty');
  if (opts.confirm && (await promptHidden('Passphrase again: ')) !== first) throw new UsageError('the passphrases do not match');
  return first;
}
