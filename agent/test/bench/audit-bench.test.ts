// The audit part of `npm run bench` (bench/audit.ts, issue 19 item 7), run small (8 MiB, one
// simulated day of rounds): it finishes without an error, counts what the friend reads to answer
// challenges (a `cairn audit` over every pack reads one sample per pack there), keeps the day's
// reads within the bound SPEC 13.8 gives, and the round asked for during the audit completes.
// Its section goes into BENCHMARKS.md between its markers and survives other parts' rewrites.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AUDIT_BEGIN, AUDIT_END, auditBytes, existingAuditSection, mergeAuditSection, renderAuditSection, runAuditBench } from '../../../bench/audit.js';

const MIB = 1024 * 1024;
let work: string | undefined;

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('bench audit part', () => {
  it('reads the size from the environment and refuses nonsense', () => {
    expect(auditBytes({})).toBe(1024 * MIB);
    expect(auditBytes({ CAIRN_BENCH_AUDIT_BYTES: '64M' })).toBe(64 * MIB);
    expect(() => auditBytes({ CAIRN_BENCH_AUDIT_BYTES: 'lots' })).toThrow(/CAIRN_BENCH_AUDIT_BYTES=lots/);
  });

  it("runs small: counts the friend's reads, stays within SPEC 13.8, and the round asked for during `cairn audit` completes", async () => {
    work = await mkdtemp(join(tmpdir(), 'cairn-audit-bench-'));
    const report = await runAuditBench({ workDir: work, log: () => undefined }, { CAIRN_BENCH_AUDIT_BYTES: '8M', CAIRN_BENCH_AUDIT_DAYS: '1' });
    expect(report.error).toBeNull();
    expect(report.packs).toBeGreaterThan(0);
    expect(report.measured.friendReadPerDay).toHaveLength(1);
    // `cairn audit` challenges every pack: the friend's reads were counted
    expect(report.measured.auditChallenges).toBeGreaterThanOrEqual(report.packs);
    expect(report.measured.auditReadBytes).toBeGreaterThan(0);
    const during = report.rows.find((r) => r.label.startsWith('a replication round asked for while'));
    expect(during?.met).toBe(true);
    for (const r of report.rows) if (r.met !== undefined) expect(r.met, r.label).toBe(true);
    const section = renderAuditSection(report, { command: 'test', machine: 'test' });
    expect(section.startsWith(AUDIT_BEGIN)).toBe(true);
    expect(section.endsWith(AUDIT_END)).toBe(true);
    expect(section).toContain('| day 1: the friend read to answer challenges |');
  }, 300_000);

  it('replaces its own section of the report and is carried over', () => {
    const old = `# Benchmarks\n\nengine\n\n${AUDIT_BEGIN}\nold\n${AUDIT_END}\n\ntail\n`;
    const merged = mergeAuditSection(old, `${AUDIT_BEGIN}\nnew\n${AUDIT_END}`);
    expect(merged).toBe(`# Benchmarks\n\nengine\n\n${AUDIT_BEGIN}\nnew\n${AUDIT_END}\n\ntail\n`);
    expect(existingAuditSection(merged)).toBe(`${AUDIT_BEGIN}\nnew\n${AUDIT_END}`);
    expect(mergeAuditSection('# Benchmarks\n', 'S')).toBe('# Benchmarks\n\nS\n');
  });
});
