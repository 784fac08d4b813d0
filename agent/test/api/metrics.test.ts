// /metrics of a real agent process: the body parses as Prometheus text format (a strict parser
// below: HELP/TYPE lines, sample lines with escaped label values and float values), and its values
// move with real backups made through the API.
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { API_TOKEN_HEADER } from '../../../protocol/api.js';
import { startAgent, type TestAgent } from '../helpers/agents.js';
import { tempDir } from '../helpers/cli.js';
import { mixedTreeSpec, writeSampleTree } from '../helpers/sample-tree.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text exposition format 0.0.4, strictly: any line it cannot read throws. */
export function parsePrometheus(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const sampleRe = new RegExp(`^(${NAME})(?:\\{(.*)\\})?\\s+(\\S+)(?:\\s+(-?\\d+))?$`);
  const labelRe = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(?:,|$)/;
  text.split('\n').forEach((line, i) => {
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = new RegExp(`^# (HELP|TYPE) (${NAME})(?: (.*))?$`).exec(line);
      if (!m) throw new Error(`line ${i + 1}: bad comment: ${line}`);
      if (m[1] === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3] ?? '')) throw new Error(`line ${i + 1}: bad type ${m[3]}`);
        types.set(m[2] as string, m[3] as string);
      }
      return;
    }
    const m = sampleRe.exec(line);
    if (!m) throw new Error(`line ${i + 1}: not a sample: ${line}`);
    const labels: Record<string, string> = {};
    let rest = m[2] ?? '';
    while (rest.length > 0) {
      const l = labelRe.exec(rest);
      if (!l) throw new Error(`line ${i + 1}: bad labels: ${m[2]}`);
      labels[l[1] as string] = (l[2] as string).replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      rest = rest.slice(l[0].length);
    }
    const v = m[3] as string;
    const value = v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : v === 'NaN' ? NaN : Number(v);
    if (Number.isNaN(value) && v !== 'NaN') throw new Error(`line ${i + 1}: bad value ${v}`);
    samples.push({ name: m[1] as string, labels, value });
  });
  return { samples, types };
}

describe('/metrics', () => {
  let agent: TestAgent | undefined;
  afterAll(async () => agent?.stop());

  test('parses as Prometheus text and moves with real backups', async () => {
    agent = await startAgent('metrics');
    const a = agent;
    const scrape = async () => {
      const res = await fetch(`${a.info.api}/metrics`, { headers: { [API_TOKEN_HEADER]: a.info.token } });
      expect(res.status).toBe(200);
      return parsePrometheus(await res.text());
    };
    const get = (m: { samples: Sample[] }, name: string, labels: Record<string, string> = {}) =>
      m.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

    const before = await scrape();
    expect(before.types.get('cairn_source_backup_successes_total')).toBe('counter');
    const data = join(await tempDir('cairn-metrics-'), 'data');
    await writeSampleTree(data, mixedTreeSpec({ seed: 5, bigRandom: [300_000], bigText: [100_000], smallFiles: 20 }));
    await a.cliOk(['backup', data]);
    const after1 = await scrape();
    expect(get(after1, 'cairn_source_backup_successes_total', { source: data })).toBe(1);
    const t1 = get(after1, 'cairn_source_last_success_timestamp_seconds', { source: data }) ?? 0;
    expect(t1).toBeGreaterThan(new Date().getTime() / 1000 - 120);
    expect(get(after1, 'cairn_repository_bytes') ?? 0).toBeGreaterThan(get(before, 'cairn_repository_bytes') ?? 0);

    await a.cliOk(['backup', data]);
    const after2 = await scrape();
    expect(get(after2, 'cairn_source_backup_successes_total', { source: data })).toBe(2);
    expect(get(after2, 'cairn_source_last_success_timestamp_seconds', { source: data }) ?? 0).toBeGreaterThanOrEqual(t1);

    // a failed backup (the path vanished) counts as a failure for that source
    const gone = join(data, 'no-such-dir');
    const r = await fetch(`${a.info.api}/api/v1/ops/backup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [API_TOKEN_HEADER]: a.info.token },
      body: JSON.stringify({ paths: [gone], tags: [] }),
    });
    expect(r.status).toBe(400);
    expect(get(await scrape(), 'cairn_source_backup_failures_total', { source: gone })).toBe(1);
  });

  test('the parser is strict', () => {
    expect(() => parsePrometheus('metric{a="b"} 1\n')).not.toThrow();
    expect(() => parsePrometheus('metric{a=b} 1\n')).toThrow();
    expect(() => parsePrometheus('metric one\n')).toThrow();
    expect(() => parsePrometheus('# TYPE metric thing\n')).toThrow();
  });
});
