// The Content-Disposition of a download (RFC 6266): the name people see, as a quoted ASCII
// fallback and as RFC 8187 UTF-8. A file name is bytes and may hold anything but "/" and NUL
// (quotes, line breaks, bytes that are not UTF-8): both forms are built from its display form
// (displayName: control characters and such bytes as \xNN), so nothing of it can end the header.
import { displayName } from '../util/byte-names.js';

export function attachment(name: string): string {
  const shown = displayName(name);
  const ascii = shown.replace(/[^\x20-\x7e]|["\\%;]/g, '_');
  let utf8: string;
  try {
    utf8 = encodeURIComponent(shown).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  } catch {
    utf8 = encodeURIComponent(ascii); // a lone surrogate no name decodes to: the fallback alone
  }
  return `attachment; filename="${ascii}"; filename*=UTF-8''${utf8}`;
}
