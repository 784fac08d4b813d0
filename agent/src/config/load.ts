// Loads cairn.yaml: YAML (the `yaml` package, with a LineCounter for positions) checked against the
// specs in schema.ts, then defaults and the checks that span fields. Every problem is reported,
// one line each, as `FILE:LINE: FIELD: what is wrong`; any problem makes the whole file invalid
// (ConfigError, exit code 2), so a half-understood config never runs.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import type { CairnConfig } from '../../../protocol/config.js';
import { MIN_TRANSFER_BYTES_PER_SEC, MIN_UPLOAD_LIMIT_BYTES_PER_SEC } from '../../../protocol/mesh.js';
import { UsageError } from '../util/errors.js';
import { configSpec, type MapSpec, type Spec } from './schema.js';
import { yamlErrorLine } from './yaml-errors.js';
import { withDefaults } from './with-defaults.js';

/** An invalid config file: every problem, one line each. */
export class ConfigError extends UsageError {
  readonly lines: string[];
  constructor(lines: string[]) {
    super(lines.join('\n'), 'E_CONFIG');
    this.name = 'ConfigError';
    this.lines = lines;
  }
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** Levenshtein distance, for "did you mean" hints on unknown keys. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] as number;
      row[j] = Math.min(cur + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length] as number;
}

function nearest(key: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(key.toLowerCase(), k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return bestD <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

class Walker {
  readonly errors: Array<{ line: number; text: string }> = [];
  private readonly lines: LineCounter;

  constructor(lines: LineCounter) {
    this.lines = lines;
  }

  lineOf(node: YamlNode | null | undefined, fallback = 1): number {
    const at = node?.range?.[0];
    return at === undefined ? fallback : this.lines.linePos(at).line;
  }

  fail(node: YamlNode | null | undefined, path: string, text: string, fallbackLine = 1): void {
    this.errors.push({ line: this.lineOf(node, fallbackLine), text: `${path}: ${text}` });
  }

  value(node: YamlNode | null, spec: Spec, path: string, line: number): unknown {
    if (spec.kind === 'map') return this.map(node, spec, path, line);
    if (spec.kind === 'list') {
      if (isSeq(node)) return node.items.map((item, i) => this.value(item as YamlNode, spec.of, `${path}[${i}]`, this.lineOf(node, line)));
      if (spec.single && isScalar(node)) return [this.value(node, spec.of, path, line)];
      this.fail(node, path, `expected a list${spec.single ? ' (or a single value)' : ''}`, line);
      return undefined;
    }
    if (!isScalar(node)) {
      this.fail(node, path, isMap(node) || isSeq(node) ? `expected a single value, got a ${isMap(node) ? 'mapping' : 'list'}` : 'missing value', line);
      return undefined;
    }
    const r = spec.check(node.value);
    if ('error' in r) {
      this.fail(node, path, r.error, line);
      return undefined;
    }
    return r.value;
  }

  map(node: YamlNode | null, spec: MapSpec, path: string, line: number): Record<string, unknown> | undefined {
    const at = path === '' ? '' : `${path}.`;
    if (node === null || (isScalar(node) && node.value === null)) {
      if (spec.required?.length) this.fail(node, path || '(top level)', `missing ${spec.required.join(', ')}`, line);
      return {};
    }
    if (!isMap(node)) {
      this.fail(node, path || '(top level)', 'expected a mapping of keys to values', line);
      return undefined;
    }
    const out: Record<string, unknown> = {};
    const seen = new Set<string>();
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode | null;
      const key = isScalar(keyNode) ? String(keyNode.value) : '';
      const field = spec.fields[key];
      if (!field) {
        const hint = nearest(key, Object.keys(spec.fields));
        this.fail(
          keyNode,
          `${at}${key}`,
          `unknown key${hint ? ` (did you mean "${hint}"?)` : ` (known: ${Object.keys(spec.fields).join(', ')})`}`,
          this.lineOf(node, line),
        );
        continue;
      }
      if (seen.has(key)) {
        this.fail(keyNode, `${at}${key}`, 'given twice');
        continue;
      }
      seen.add(key);
      const v = this.value(pair.value as YamlNode | null, field[1], `${at}${key}`, this.lineOf(keyNode, line));
      if (v !== undefined) out[field[0]] = v;
    }
    for (const req of spec.required ?? []) if (!seen.has(req)) this.fail(node, path || '(top level)', `missing ${req}`);
    return out;
  }
}

/** Checks that span fields; `lineOf` finds the line of a source or key for the message. */
function crossChecks(c: CairnConfig, fail: (path: string, text: string) => void): void {
  const names = new Map<string, number>();
  c.sources.forEach((s, i) => {
    const first = names.get(s.name);
    if (first !== undefined) fail(`sources[${i}].name`, `"${s.name}" is already the name of sources[${first}]`);
    else names.set(s.name, i);
    if (s.volumes.length + s.volumeSelectors.length + s.paths.length === 0)
      fail(`sources[${i}]`, `source "${s.name}" has nothing to back up: give volumes, volume-selectors or paths`);
    if (s.consistency?.stop && s.consistency.pause)
      fail(`sources[${i}].consistency.pause`, 'stop and pause are both true: choose one (stop wins for a consistent copy, pause is shorter)');
    if (s.consistency && s.volumes.length + s.volumeSelectors.length === 0)
      fail(`sources[${i}].consistency`, `source "${s.name}" has no volumes: consistency applies to the containers that mount its volumes`);
  });
  const host = /^(.+):\d+$/.exec(c.console.address)?.[1] ?? '';
  if (!LOOPBACK.has(host) && !c.console.allowRemote)
    fail('console.address', `${c.console.address} is not a loopback address: set "allow-remote: true" to serve the console beyond this machine`);
  if ((c.console.tlsCert === undefined) !== (c.console.tlsKey === undefined))
    fail(c.console.tlsCert === undefined ? 'console.tls-key' : 'console.tls-cert', 'tls-cert and tls-key go together: give both or neither');
  if (c.replicateIntervalMs < 10_000) fail('replicate-every', 'must be at least 10s');
  const tooSlow = uploadLimitProblem(c.bandwidthBytesPerSec);
  if (tooSlow) fail('bandwidth-limit', tooSlow);
  if (c.relay.bytesPerSec !== 0 && c.relay.bytesPerSec < MIN_RELAY_RATE_BYTES_PER_SEC)
    fail(
      'relay.rate',
      `${c.relay.bytesPerSec} bytes/s is below ${MIN_RELAY_RATE_BYTES_PER_SEC / 1024}K: a friend's pushes through the relay would fall under the ${MIN_TRANSFER_BYTES_PER_SEC / 1024} KiB/s every transfer must keep`,
    );
}

/** Lowest relay rate per friend (0 = unlimited): the 3 pushes a round keeps in flight, each at the minimum transfer rate, and room for the rest. */
export const MIN_RELAY_RATE_BYTES_PER_SEC = 128 * 1024;

/** Why an upload limit is too low for friends to keep taking our packs, or undefined (0 = unlimited). */
export function uploadLimitProblem(bytesPerSec: number): string | undefined {
  if (bytesPerSec === 0 || bytesPerSec >= MIN_UPLOAD_LIMIT_BYTES_PER_SEC) return undefined;
  return `${bytesPerSec} bytes/s is below ${MIN_UPLOAD_LIMIT_BYTES_PER_SEC / 1024}K: friends reset a pack upload slower than ${MIN_TRANSFER_BYTES_PER_SEC / 1024} KiB/s, and up to 3 share the limit`;
}

/** Parses cairn.yaml text; `file` names it in messages. Throws ConfigError listing every problem. */
export function parseConfig(text: string, file: string): CairnConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  const name = basename(file);
  if (doc.errors.length > 0) throw new ConfigError([yamlErrorLine(name, text, doc.errors, lines)]);
  const w = new Walker(lines);
  const raw = w.map(doc.contents as YamlNode | null, configSpec, '', 1) ?? {};
  if (w.errors.length === 0) {
    const config = withDefaults(raw);
    // a cross-field problem is reported on the line of the field it names
    const lineOfPath = (path: string): number => {
      const parts = path.split(/\.|\[(\d+)\]/).filter((p) => p !== undefined && p !== '');
      const keys = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : p));
      const node = doc.getIn(keys, true) as YamlNode | undefined;
      return w.lineOf(node ?? null, 1);
    };
    crossChecks(config, (path, msg) => w.errors.push({ line: lineOfPath(path), text: `${path}: ${msg}` }));
    if (w.errors.length === 0) return config;
  }
  throw new ConfigError(w.errors.sort((a, b) => a.line - b.line).map((e) => `${name}:${e.line}: ${e.text}`));
}

/** Reads and parses a config file; a missing file is the defaults when `optional`. */
export async function loadConfig(file: string, opts: { optional: boolean }): Promise<CairnConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && opts.optional) return parseConfig('', file);
    throw new ConfigError([`${file}: cannot read the config file: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`]);
  }
  return parseConfig(text, file);
}
