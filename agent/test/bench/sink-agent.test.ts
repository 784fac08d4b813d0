// The bench's sink reaches agents only through the bench's own entry point (bench/sink/agent.ts,
// issue 17 item 6): agents started from it stream to each other's sink through the benchStream API
// op; a product agent (bin/cairn.js) has neither the op nor the protocol. Real agents from dist/.
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { API_PREFIX } from '../../../protocol/api.js';
import { ROOT } from '../helpers/cli.js';
import { pairAgents, startAgent, type TestAgent } from '../helpers/agents.js';

const SINK_AGENT = join(ROOT, 'dist', 'bench', 'sink', 'agent.js');
const MIB = 1024 * 1024;
let benchA: TestAgent;
let benchB: TestAgent;
let plain: TestAgent;

async function op(agent: TestAgent, name: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${agent.info.api}${API_PREFIX}/ops/${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${agent.info.token}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  [benchA, benchB, plain] = await Promise.all([
    startAgent('bench-a', { entry: SINK_AGENT }),
    startAgent('bench-b', { entry: SINK_AGENT }),
    startAgent('plain'),
  ]);
  await pairAgents(benchA, benchB);
  await pairAgents(benchA, plain);
}, 180_000);

afterAll(async () => {
  await Promise.all([benchA, benchB, plain].map((a) => a?.stop()));
});

test("the bench's agents stream to each other's sink: every byte counted", async () => {
  for (const mode of ['windowed', 'raw']) {
    const r = await op(benchA, 'benchStream', { peerId: benchB.info.peerId, bytes: 4 * MIB, mode });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json.bytes).toBe(4 * MIB);
  }
});

test('a product agent has no benchStream op and serves no sink', async () => {
  const r = await op(plain, 'benchStream', { peerId: benchA.info.peerId, bytes: MIB });
  expect(r.status).toBe(404);
  const toPlain = await op(benchA, 'benchStream', { peerId: plain.info.peerId, bytes: MIB, mode: 'windowed' });
  expect(toPlain.status).not.toBe(200);
  expect(String(toPlain.json.message ?? toPlain.json.error)).toMatch(/protocol|not supported|bench-sink/i);
});
