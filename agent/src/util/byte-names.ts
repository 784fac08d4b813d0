// File names and symlink targets are bytes on Linux, not text. In memory Cairn keeps them as
// strings in which every byte that is not part of valid UTF-8 stands as the lone surrogate
// U+DC80..U+DCFF (the "surrogateescape" mapping): valid UTF-8 never decodes to a lone surrogate, so
// the mapping is one to one and a name that is valid UTF-8 is its ordinary string. Tree objects
// store such names as bytes (SPEC 6, `nameBytes` / `targetBytes`); the file system is always called
// with the exact bytes (`toBytes`); people see `\xNN` escapes (`displayName`).
import { isUtf8 } from 'node:buffer';

const ESC_LO = 0xdc80;
const ESC_HI = 0xdcff;

/** The length of a valid UTF-8 sequence starting at `i` (strict: no overlongs, surrogates or > U+10FFFF), or 0. */
function seqLength(b: Buffer, i: number): number {
  const c = b[i] as number;
  if (c < 0x80) return 1;
  const cont = (k: number) => i + k < b.length && ((b[i + k] as number) & 0xc0) === 0x80;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    const c1 = b[i + 1] as number;
    if (c === 0xe0 && c1 < 0xa0) return 0; // overlong
    if (c === 0xed && c1 >= 0xa0) return 0; // a surrogate
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    const c1 = b[i + 1] as number;
    if (c === 0xf0 && c1 < 0x90) return 0;
    if (c === 0xf4 && c1 >= 0x90) return 0;
    return 4;
  }
  return 0;
}

/** Bytes (a name or path from the file system) as a string; invalid bytes become U+DC80+byte. */
export function fromBytes(b: Buffer): string {
  if (isUtf8(b)) return b.toString('utf8');
  let out = '';
  let start = 0;
  let i = 0;
  while (i < b.length) {
    const n = seqLength(b, i);
    if (n > 0) {
      i += n;
      continue;
    }
    out += b.toString('utf8', start, i) + String.fromCharCode(ESC_LO + ((b[i] as number) - 0x80));
    i += 1;
    start = i;
  }
  return out + b.toString('utf8', start, b.length);
}

/** Whether a string holds escaped bytes (its bytes are not valid UTF-8). */
export function hasEscapes(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) {
      // a proper surrogate pair is an ordinary character
      if (c < 0xdc00 && i + 1 < s.length && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff) {
        i++;
        continue;
      }
      return true;
    }
  }
  return false;
}

/** The exact bytes of a string made by fromBytes (a valid-UTF-8 string: its UTF-8). */
export function toBytes(s: string): Buffer {
  if (!hasEscapes(s)) return Buffer.from(s, 'utf8');
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff) {
      i++;
      continue;
    }
    if (c >= ESC_LO && c <= ESC_HI) {
      parts.push(Buffer.from(s.slice(start, i), 'utf8'), Buffer.from([c - ESC_LO + 0x80]));
      start = i + 1;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      throw new TypeError(`not a file name: a lone surrogate U+${c.toString(16).toUpperCase()} that stands for no byte`);
    }
  }
  parts.push(Buffer.from(s.slice(start), 'utf8'));
  return Buffer.concat(parts);
}

/** For people: escaped bytes as \xNN, control characters as \xNN, backslashes doubled. */
export function displayName(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= ESC_LO && c <= ESC_HI && !(i > 0 && s.charCodeAt(i - 1) >= 0xd800 && s.charCodeAt(i - 1) < 0xdc00))
      out += `\\x${(c - ESC_LO + 0x80).toString(16).padStart(2, '0')}`;
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c === 0x5c) out += '\\\\';
    else out += s[i];
  }
  return out;
}
