// replicateOp's rounds with --wait, against a scripted mesh (the rounds themselves run against real
// agents in the mesh e2e suites): what one call reports when a round leaves packs short and the
// next one fills them.
import { describe, expect, it } from 'vitest';
import type { ReplicateResult } from '../../../protocol/api.js';
import type { Mesh } from '../../src/mesh/compose.js';
import { replicateOp } from '../../src/ops/friends.js';
import type { MeshDeps } from '../../src/ops/services.js';

const round = (r: Partial<ReplicateResult>): ReplicateResult => ({
  packs: 10,
  underReplicated: 0,
  wantedCopies: 2,
  pushed: 0,
  pushedBytes: 0,
  headSeq: 7,
  problems: [],
  ...r,
});

function scripted(rounds: ReplicateResult[]): { svc: MeshDeps; calls: () => number } {
  let calls = 0;
  const mesh = { replication: { replicate: async () => rounds[Math.min(calls++, rounds.length - 1)] as ReplicateResult } } as unknown as Mesh;
  return { svc: { mesh }, calls: () => calls };
}

describe('replicateOp', () => {
  it("with wait, adds up what every round pushed and keeps an earlier round's problem after the last round's", async () => {
    const { svc, calls } = scripted([
      round({ underReplicated: 7, pushed: 3, pushedBytes: 300, problems: ['bob is unreachable: The stream has been reset'] }),
      round({ underReplicated: 0, pushed: 7, pushedBytes: 700, headSeq: 8 }),
    ]);
    const r = await replicateOp(svc, { wait: true });
    expect(calls()).toBe(2);
    expect(r).toEqual(
      round({ underReplicated: 0, pushed: 10, pushedBytes: 1000, headSeq: 8, problems: ['round 1 (retried): bob is unreachable: The stream has been reset'] }),
    );
  });

  it("the last round's problems come first (the CLI names the first one when copies are missing)", async () => {
    const { svc } = scripted([
      round({ underReplicated: 5, pushed: 5, pushedBytes: 50, problems: ['carol refused pack 0a: over quota'] }),
      round({ underReplicated: 5, pushed: 0, problems: ['dave is unreachable: connection refused'] }),
    ]);
    const r = await replicateOp(svc, { wait: true });
    expect(r.problems).toEqual(['dave is unreachable: connection refused', 'round 1 (retried): carol refused pack 0a: over quota']);
    expect(r.underReplicated).toBe(5);
    expect(r.pushed).toBe(5);
  });

  it('without wait, one round as it came', async () => {
    const first = round({ underReplicated: 7, pushed: 3, pushedBytes: 300, problems: ['x'] });
    const { svc, calls } = scripted([first, round({ pushed: 7 })]);
    expect(await replicateOp(svc, { wait: true }).then(() => calls())).toBe(2);
    const again = scripted([first, round({ pushed: 7 })]);
    expect(await replicateOp(again.svc, { wait: false })).toEqual(first);
    expect(again.calls()).toBe(1);
  });
});
