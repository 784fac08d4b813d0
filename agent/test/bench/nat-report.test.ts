// The NAT benchmark's report (bench/nat.ts): besides the rates, the CPU-seconds alice, bob and pub
// used in each path's best sample, pub's CPU per 100 MB, and the relay's share by CPU (MB per
// CPU-second of the busiest process), so the rows can be judged where the three share the cores.
import { describe, expect, test } from 'vitest';
import { bestSample, mbPerBusiestCpuSecond, renderNatSection, type NatReport } from '../../../bench/nat.js';

const MIB = 1024 * 1024;

function report(): NatReport {
  return {
    startedAt: new Date('2026-12-05T09:00:00Z'),
    bytes: 100 * MIB,
    direct: 40,
    relayed: 12,
    webrtc: 20,
    samples: { direct: [30, 40], relayed: [12, 10], webrtc: [20] },
    cpu: {
      direct: [
        { alice: 9, bob: 9, pub: 9 },
        { alice: 0.5, bob: 1, pub: 0.05 },
      ],
      relayed: [
        { alice: 1, bob: 2, pub: 4 },
        { alice: 9, bob: 9, pub: 9 },
      ],
      webrtc: [{ alice: 2, bob: 2.5, pub: 0.1 }],
    },
    skipped: null,
    error: null,
  };
}

describe('NAT bench report: CPU per process', () => {
  test('the best sample of each path carries its CPU-seconds', () => {
    expect(bestSample(report(), 'direct')).toEqual({ mbps: 40, cpu: { alice: 0.5, bob: 1, pub: 0.05 } });
    expect(bestSample(report(), 'relayed')).toEqual({ mbps: 12, cpu: { alice: 1, bob: 2, pub: 4 } });
    expect(mbPerBusiestCpuSecond(100 * MIB, { alice: 1, bob: 2, pub: 4 })).toBeCloseTo((100 * MIB) / 1e6 / 4);
  });

  test('the section has a CPU row per path and the relay share by CPU', () => {
    const s = renderNatSection(report(), { command: 'npm run bench', machine: 'test' });
    expect(s).toContain('| direct | 0.50 | 1.00 | 0.05 | 0.05 | 104.9 |');
    expect(s).toContain('| relayed | 1.00 | 2.00 | 4.00 | 3.81 | 26.2 |');
    expect(s).toContain('| webrtc | 2.00 | 2.50 | 0.10 | 0.10 | 41.9 |');
    expect(s).toContain(
      'Relay as a share of direct TCP by CPU (MB per CPU-second of the busiest process, what each path would carry with a core per process): 25%; WebRTC: 40%.',
    );
    expect(s).toContain('| relay as a share of direct TCP | 30% | at least 40% | **not met** |');
  });
});
