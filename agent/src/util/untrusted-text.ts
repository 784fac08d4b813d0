// Text that came from someone we do not control (a friend's refusal message, its name, a problem
// quoting it) is data: before it is stored, logged, notified or shown it loses everything a
// terminal, a log viewer or a browser could act on, and is cut to a length a human reads.

/** Characters kept of a friend's message (refusal text, problem) once cleaned. */
export const MAX_UNTRUSTED_TEXT_CHARS = 200;

// ANSI escape sequences (CSI, OSC, and two-byte escapes), removed whole so no "[31m" is left over
const ANSI = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b[@-_]/g;
// C0 and C1 controls and DEL; soft hyphen; bidi embeddings, overrides and isolates; zero-width and directional
// marks; line and paragraph separators; the BOM; interlinear annotation marks; lone surrogates
const UNSAFE =
  /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * `value` as one line of plain text of at most `maxChars` characters (code points): escape
 * sequences removed, every other unsafe character (controls, bidi overrides, newlines) replaced
 * by a space, runs of spaces collapsed; a longer text ends in "…". Anything but a string becomes ''.
 */
export function untrustedText(value: unknown, maxChars = MAX_UNTRUSTED_TEXT_CHARS): string {
  if (typeof value !== 'string') return '';
  // look at a bounded prefix only: the cleaned text is never longer than what it came from
  const cleaned = value
    .slice(0, maxChars * 8)
    .replace(ANSI, '')
    .replace(UNSAFE, ' ')
    .replace(/ {2,}/g, ' ')
    .trim();
  const chars = Array.from(cleaned);
  return chars.length <= maxChars ? cleaned : `${chars.slice(0, maxChars - 1).join('')}…`;
}
