// The error catalogue (protocol/errors.ts) is the one list of error codes: every code the sources
// use is in it (or is a friend's wire refusal code), and SPEC 12.1 / 13.2 print it exactly.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ERRORS } from '../../../protocol/errors.js';
import { WireError } from '../../../protocol/mesh.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const SOURCES = ['agent/src', 'protocol', 'console/src'];

function* tsFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* tsFiles(p);
    else if (/\.ts$/.test(name) && !/\.test\.ts$/.test(name)) yield p;
  }
}

/** Every quoted E_ code in the product sources, with one place it appears. */
function codesInSources(): Map<string, string> {
  const out = new Map<string, string>();
  for (const dir of SOURCES) {
    for (const file of tsFiles(join(ROOT, dir))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/['"`](E_[A-Z0-9_]+)['"`]/g))
        if (!out.has(m[1] as string)) out.set(m[1] as string, file.slice(ROOT.length + 1));
    }
  }
  return out;
}

/** The rows of the markdown table that follows `heading` in SPEC.md: first cell (code, unquoted) -> the other cells. */
function specTable(heading: string): Map<string, string[]> {
  const spec = readFileSync(join(ROOT, 'protocol', 'SPEC.md'), 'utf8');
  const start = spec.indexOf(heading);
  expect(start, `SPEC.md has "${heading}"`).toBeGreaterThan(0);
  const lines = spec.slice(start).split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const rows = new Map<string, string[]>();
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    const cells = line.split(' | ').map((c) => c.replace(/^\| ?| ?\|$/g, '').trim());
    for (const code of (cells[0] ?? '').split(',').map((c) => c.trim().replace(/`/g, ''))) rows.set(code, cells.slice(1));
  }
  return rows;
}

describe('the error catalogue', () => {
  test('every code the sources use is catalogued (or is a wire refusal code)', () => {
    const wire = new Set<string>(Object.values(WireError));
    const missing = [...codesInSources()].filter(([code]) => !(code in ERRORS) && !wire.has(code)).map(([code, file]) => `${code} (${file})`);
    expect(missing).toEqual([]);
  });

  test('every catalogued code is used somewhere (no dead entries)', () => {
    const used = codesInSources();
    const unused = Object.keys(ERRORS).filter((code) => ![...used].some(([c, file]) => c === code && file !== 'protocol/errors.ts'));
    expect(unused).toEqual([]);
  });

  test('SPEC 12.1 prints the catalogue exactly: code, exit code, HTTP status, meaning', () => {
    const rows = specTable('### 12.1 Error codes');
    expect([...rows.keys()].sort()).toEqual(Object.keys(ERRORS).sort());
    for (const [code, spec] of Object.entries(ERRORS)) expect(rows.get(code), code).toEqual([String(spec.exit), String(spec.http), spec.meaning]);
  });

  test('SPEC 13.2 lists every wire refusal code', () => {
    const rows = specTable('### 13.2 Framing');
    expect([...rows.keys()].sort()).toEqual([...new Set(Object.values(WireError))].sort());
  });

  test('exit codes are 1 or 2 and usage errors answer 4xx', () => {
    for (const [code, spec] of Object.entries(ERRORS)) {
      expect([1, 2], code).toContain(spec.exit);
      if (spec.exit === 2) expect(spec.http, code).toBeLessThan(500);
    }
  });
});
