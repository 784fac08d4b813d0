// The browser's URLs (console/src/browse-path.ts): every name the agent can list has one, and it
// reads back as the same name: text with URL characters in it, and names that are not UTF-8 (held
// as U+DC80+byte by the agent's fromBytes, travelling in the URL as their bytes).
import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { browseHref, parseBrowseRoute } from '../../../console/src/browse-path.js';
import { fromBytes } from '../../src/util/byte-names.js';

const SNAP = 'ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12';

function roundTrip(path: string, from = 0) {
  const href = browseHref(SNAP, path, from);
  expect(href.startsWith(`#/snapshots/${SNAP}/browse/`)).toBe(true);
  return parseBrowseRoute(href.slice('#/snapshots/'.length));
}

describe('browse URLs', () => {
  test('names with URL characters, spaces, emoji; the page offset', () => {
    for (const path of ['/', '/srv/data', '/a b/c?d=e&f#g/100%/ü/🙂/x%2Fy', '/..x/.hidden']) expect(roundTrip(path)).toEqual({ snapshot: SNAP, path, from: 0 });
    expect(roundTrip('/srv/many', 9800)).toEqual({ snapshot: SNAP, path: '/srv/many', from: 9800 });
  });

  test("names that are not UTF-8 come back as the agent's strings for the same bytes", () => {
    const names = [Buffer.from([0xff, 0x41]), Buffer.from([0x66, 0xc3]), Buffer.from([0xe2, 0x82]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xc0, 0xaf])];
    for (let i = 0; i < 200; i++) names.push(Buffer.from(randomBytes(1 + (i % 12)).map((b) => (b === 0x2f || b === 0 ? 0x41 : b))));
    for (const bytes of names) {
      const path = `/d/${fromBytes(bytes)}`;
      expect(roundTrip(path), bytes.toString('hex')).toEqual({ snapshot: SNAP, path, from: 0 });
    }
  });

  test('a malformed address is said to be one', () => {
    expect(parseBrowseRoute(`${SNAP}/browse/%E0%A4%A/`)).toEqual({ error: expect.stringContaining('not a valid path') });
    expect(parseBrowseRoute(`${SNAP}/elsewhere`)).toEqual({ error: expect.stringContaining('not a place in a snapshot') });
    // ".." is passed on as a name: the agent refuses it (browse-page.test.ts), the URL cannot hide it
    expect(parseBrowseRoute(`${SNAP}/browse/..%2F..%2Fetc/`)).toEqual({ snapshot: SNAP, path: '/../../etc', from: 0 });
  });
});
