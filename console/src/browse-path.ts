// The browser's URLs: #/snapshots/<snapshot>/browse/<name>/<name>...[?from=N], one per snapshot,
// folder and page, so the back button and a shared link open the same place. Each name is
// percent-encoded; a byte of a name that is not UTF-8 (held as U+DC80+byte, SPEC 6) travels as
// that byte (%XX), and decoding maps such bytes back, so every name the agent lists has a URL.
// What a URL names is only looked up in the snapshot's trees by the agent (".." is refused there).

const ESC_LO = 0xdc80;
const ESC_HI = 0xdcff;

function encodeName(name: string): string {
  let out = '';
  for (const ch of name) {
    const c = ch.charCodeAt(0);
    if (ch.length === 1 && c >= ESC_LO && c <= ESC_HI) out += `%${(c - ESC_LO + 0x80).toString(16).toUpperCase()}`;
    else if (ch.length === 1 && c >= 0xd800 && c <= 0xdfff)
      out += '%EF%BF%BD'; // no name holds another lone surrogate
    else out += encodeURIComponent(ch);
  }
  return out;
}

const strict = new TextDecoder('utf-8', { fatal: true });

/** Bytes to a string as the agent makes names: valid UTF-8 as text, every other byte as U+DC80+byte. */
function decodeBytes(b: Uint8Array): string {
  try {
    return strict.decode(b);
  } catch {
    let out = '';
    for (let i = 0; i < b.length;) {
      let n = 0;
      for (let k = 1; k <= 4 && i + k <= b.length && n === 0; k++) {
        try {
          const s = strict.decode(b.subarray(i, i + k));
          if ([...s].length === 1) {
            out += s;
            n = k;
          }
        } catch {
          // not a whole character yet
        }
      }
      if (n === 0) {
        out += String.fromCharCode(ESC_LO + (b[i] as number) - 0x80);
        n = 1;
      }
      i += n;
    }
    return out;
  }
}

/** A name from its URL form; undefined for a malformed escape. */
function decodeName(seg: string): string | undefined {
  const bytes: number[] = [];
  const enc = new TextEncoder();
  for (let i = 0; i < seg.length;) {
    if (seg[i] === '%') {
      const hex = seg.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 3;
    } else {
      const ch = String.fromCodePoint(seg.codePointAt(i) as number);
      bytes.push(...enc.encode(ch));
      i += ch.length;
    }
  }
  return decodeBytes(Uint8Array.from(bytes));
}

/** The URL (hash) of a folder of a snapshot, from entry `from` of its listing. */
export function browseHref(snapshot: string, path: string, from = 0): string {
  const names = path.split('/').filter(Boolean).map(encodeName);
  return `#/snapshots/${encodeURIComponent(snapshot)}/browse/${names.map((n) => `${n}/`).join('')}${from > 0 ? `?from=${from}` : ''}`;
}

export interface BrowseRoute {
  snapshot: string;
  /** "/" or "/a/b", as the URL spelled it (the agent normalises and checks it). */
  path: string;
  from: number;
}

/** The place a hash after "snapshots/" names ("<id>/browse/<names>[?from=N]"), or a reason it names none. */
export function parseBrowseRoute(rest: string): BrowseRoute | { error: string } {
  const m = /^([^/?]+)\/browse(?:\/([^?]*))?(?:\?from=(\d{1,9}))?$/.exec(rest);
  if (!m) return { error: `not a place in a snapshot: ${rest}` };
  const names: string[] = [];
  for (const seg of (m[2] ?? '').split('/').filter(Boolean)) {
    const name = decodeName(seg);
    if (name === undefined) return { error: `not a valid path in the address: ${m[2] ?? ''}` };
    names.push(name);
  }
  return { snapshot: m[1] as string, path: `/${names.join('/')}`, from: Number(m[3] ?? 0) };
}
