// The recovery phrase is the root secret in words: it is shown only on a terminal, never written
// where a log could keep it (a container's stdout is kept by `docker compose logs`), and read from
// a prompt without echo or from a file only its owner can read.
import { stat, readFile } from 'node:fs/promises';
import { UsageError } from '../util/errors.js';
import { promptHidden } from './passphrase.js';

/** Where to see the phrase when it was not shown (no terminal). */
export const SHOW_PHRASE_HINT = 'run "cairn key show-phrase" on a terminal (in Docker: docker compose exec cairn cairn key show-phrase)';

/**
 * True when stdout is a terminal and this process is not a container's or init's own child: the
 * main process of a container (PID 1, or the child of docker-init) or a systemd service writes
 * into a log even when it has a terminal (`docker run -it` keeps the pty's output in `docker logs`).
 */
export function phraseMayShow(out: { isTTY?: boolean } = process.stdout, proc: { pid: number; ppid: number } = process): boolean {
  return out.isTTY === true && proc.pid !== 1 && proc.ppid !== 1;
}

/** The phrase as a block to write down. */
export function phraseBlock(phrase: string): string {
  return `Recovery phrase (write it down and keep it away from this machine; it is not shown in any log):\n\n  ${phrase}\n\n`;
}

export class PhraseFileError extends UsageError {
  constructor(message: string) {
    super(message, 'E_PHRASE_FILE');
    this.name = 'PhraseFileError';
  }
}

/** The first line of FILE, which must be a regular file no one but its owner can read (mode 600 or 400). */
export async function readPhraseFile(file: string): Promise<string> {
  let st;
  try {
    st = await stat(file);
  } catch (err) {
    throw new PhraseFileError(`cannot read phrase file ${file}: ${(err as Error).message}`);
  }
  if (!st.isFile()) throw new PhraseFileError(`phrase file ${file} is not a regular file`);
  if ((st.mode & 0o077) !== 0)
    throw new PhraseFileError(`phrase file ${file} is readable by others (mode ${(st.mode & 0o777).toString(8)}): chmod 600 ${file}`);
  const line = (await readFile(file, 'utf8')).split('\n')[0]?.trim() ?? '';
  if (!line) throw new PhraseFileError(`phrase file ${file} is empty`);
  return line;
}

/** The phrase for `cairn recover`: --phrase-file, else CAIRN_RECOVERY_PHRASE (for scripts), else a prompt without echo. */
export async function readRecoveryPhrase(opts: { phraseFile?: string }): Promise<string> {
  if (opts.phraseFile) return readPhraseFile(opts.phraseFile);
  const env = process.env.CAIRN_RECOVERY_PHRASE;
  if (env) return env;
  if (!process.stdin.isTTY) throw new UsageError('no recovery phrase: use --phrase-file FILE (mode 600) or run on a terminal to be asked');
  return promptHidden('Recovery phrase (24 words; not shown as you type): ');
}
