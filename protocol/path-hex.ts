// A path's exact bytes as lowercase hex: how the API's download routes (SPEC 13.7, `pathHex`) are
// given a path holding a name that is not valid UTF-8, which has no query-string spelling the
// agent would decode back to the same bytes. In memory such a name holds each byte that is not
// part of valid UTF-8 as the lone surrogate U+DC80+byte (SPEC 6, "surrogateescape"); here it
// becomes that byte again, the rest its UTF-8. Shared by the agent and the console (no Buffer).

const ESC_LO = 0xdc80;
const ESC_HI = 0xdcff;

/** The hex of `path`'s bytes; throws TypeError for a lone surrogate that stands for no byte. */
export function pathHex(path: string): string {
  const enc = new TextEncoder();
  let out = '';
  let start = 0;
  const text = (end: number) => {
    for (const b of enc.encode(path.slice(start, end))) out += b.toString(16).padStart(2, '0');
  };
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < path.length && (path.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      i++; // a surrogate pair: an ordinary character
      continue;
    }
    if (c >= ESC_LO && c <= ESC_HI) {
      text(i);
      out += (c - ESC_LO + 0x80).toString(16);
      start = i + 1;
    } else if (c >= 0xd800 && c <= 0xdfff) throw new TypeError(`not a path: a lone surrogate U+${c.toString(16).toUpperCase()} that stands for no byte`);
  }
  text(path.length);
  return out;
}

/** Whether `path` holds a name that is not valid UTF-8 (a lone surrogate): its downloads need `pathHex`. */
export function needsPathHex(path: string): boolean {
  return /\p{Surrogate}/u.test(path);
}
