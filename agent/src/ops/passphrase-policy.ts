// A new passphrase must be worth the name: it guards the key file, which anyone holding a copy of
// the home can attack offline. Strength is estimated with zxcvbn (@zxcvbn-ts: dictionaries, common
// passwords, keyboard patterns, dates, repeats), not a length rule; the .env.example placeholder is
// refused by name.
import { UsageError } from '../util/errors.js';

/** zxcvbn's score from 0 to 4; 3 means about 10^8 guesses or more, which Argon2id makes years of work. */
export const MIN_PASSPHRASE_SCORE = 3;

/** The passphrase the compose file's .env.example carries, which people copy without changing. */
export const EXAMPLE_PASSPHRASE = 'change-me-to-a-long-passphrase';

type Estimator = (p: string, userInputs: string[]) => { score: number; feedback: { warning: string | null; suggestions: string[] } };
let estimator: Promise<Estimator> | undefined;

/** zxcvbn with the common and English dictionaries, loaded on first use (they are megabytes). */
function loadEstimator(): Promise<Estimator> {
  return (estimator ??= (async () => {
    const [{ zxcvbn, zxcvbnOptions }, common, en] = await Promise.all([
      import('@zxcvbn-ts/core'),
      import('@zxcvbn-ts/language-common'),
      import('@zxcvbn-ts/language-en'),
    ]);
    zxcvbnOptions.setOptions({ dictionary: { ...common.dictionary, ...en.dictionary }, graphs: common.adjacencyGraphs, translations: en.translations });
    return (p, userInputs) => zxcvbn(p, userInputs);
  })());
}

/** Refuses (E_WEAK_PASSPHRASE, exit 2) a new passphrase that is the example's or too easy to guess; `context`: words an attacker would try first (host name, agent name). */
export async function checkNewPassphrase(passphrase: string, context: string[] = []): Promise<void> {
  if (passphrase.trim() === EXAMPLE_PASSPHRASE)
    throw new UsageError(
      "the passphrase is still the example's placeholder from .env.example: set one of your own (four or more random words)",
      'E_WEAK_PASSPHRASE',
    );
  const r = (await loadEstimator())(passphrase, ['cairn', 'backup', ...context]);
  if (r.score >= MIN_PASSPHRASE_SCORE) return;
  const why = [r.feedback.warning, ...r.feedback.suggestions].filter((s): s is string => Boolean(s)).join(' ');
  throw new UsageError(
    `the passphrase is too easy to guess (strength ${r.score} of 4, at least ${MIN_PASSPHRASE_SCORE} needed)${why ? `: ${why}` : ''}; four or more random words make a good one`,
    'E_WEAK_PASSPHRASE',
  );
}
