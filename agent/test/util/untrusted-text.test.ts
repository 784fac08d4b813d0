// untrustedText: a friend's words become one safe line of bounded length.
import { describe, expect, it } from 'vitest';
import { MAX_UNTRUSTED_TEXT_CHARS, untrustedText } from '../../src/util/untrusted-text.js';

describe('untrustedText', () => {
  it('removes ANSI escape sequences whole and replaces other controls with a space', () => {
    expect(untrustedText('\u001b[2J\u001b[31mred\u001b[0m text')).toBe('red text');
    expect(untrustedText('title\u001b]0;pwned\u0007 after')).toBe('title after');
    expect(untrustedText('a\r\nb\tc\u0000d\u007fe\u0085f\u009bg')).toBe('a b c d e f g');
  });

  it('removes bidi overrides and isolates, zero-width characters and line separators', () => {
    expect(untrustedText('invoice\u202efdp.exe')).toBe('invoice fdp.exe');
    expect(untrustedText('x\u2066y\u2069z\u200bw\u2028v\ufeffu\u00adt\ufff9s')).toBe('x y z w v u t s');
  });

  it('keeps ordinary text, accents and emoji; drops lone surrogates', () => {
    expect(untrustedText('Zoë’s NAS 🗄️ — ok')).toBe('Zoë’s NAS 🗄️ — ok');
    expect(untrustedText('a\ud800b\udc00c')).toBe('a b c');
  });

  it('cuts a long text to the cap, in code points, ending in an ellipsis; a 256 KiB message is cut without scanning it all', () => {
    const long = untrustedText('🙂'.repeat(1000));
    expect(Array.from(long).length).toBe(MAX_UNTRUSTED_TEXT_CHARS);
    expect(long.endsWith('…')).toBe(true);
    expect(untrustedText('x'.repeat(256 * 1024), 40)).toBe(`${'x'.repeat(39)}…`);
    expect(untrustedText('short', 40)).toBe('short');
  });

  it('is idempotent, and anything but a string is empty', () => {
    const once = untrustedText(`\u001b[1m${'y'.repeat(500)}`);
    expect(untrustedText(once)).toBe(once);
    expect(untrustedText({ toString: () => '\u001b[31m' })).toBe('');
    expect(untrustedText(undefined)).toBe('');
  });
});
