// Relay budgets with real libp2p nodes on loopback (createMeshNode, as agents build it): the relay
// counts what it carries for each friend (both ends of a relayed connection), pauses a relayed
// stream while a friend is over its rate (a held sleep keeps it paused: nothing more crosses), and
// cuts a friend's relayed connections and refuses new ones once its daily volume is used up, until
// the next UTC day; what a day's volume used survives a restart (relay-budget-file.ts). Relies on
// @libp2p/circuit-relay-v2 4.2's server joining the source's HOP stream (unwrapped in
// handleConnect) and the STOP stream from stopHop (relay-circuits.ts), and on yamux holding back window updates while
// a stream is paused.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_RELAY_METERED_PEERS, RelayBudget } from '../../src/mesh/relay-budget.js';
import { MAX_RELAY_BUDGET_FILE_BYTES, RelayBudgetFile, relayBudgetPath } from '../../src/mesh/relay-budget-file.js';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { tempDir } from '../helpers/cli.js';
import { echo, trio } from '../helpers/relay-trio.js';

const KIB = 1024;

describe('relay budgets', () => {
  let stop: (() => Promise<unknown>) | undefined;
  afterEach(async () => {
    await stop?.();
    stop = undefined;
  });

  it('counts what the relay carries for each friend, both directions, for both ends', async () => {
    const t = await trio({ bytesPerSec: 0, bytesPerDay: 0 });
    stop = t.stop;
    const big = Buffer.alloc(512 * KIB, 3);
    expect(Buffer.compare(Buffer.from(await echo(t.alice, t.circuit, big)), big)).toBe(0);
    // 512 KiB each way, plus Noise and Yamux framing
    for (const who of [t.alice, t.bob]) {
      const c = t.budget.count(who.peerId.toString());
      expect(c.totalBytes).toBeGreaterThanOrEqual(1024 * KIB);
      expect(c.totalBytes).toBeLessThan(1200 * KIB);
      expect(c.todayBytes).toBe(c.totalBytes);
    }
    expect(t.budget.count(t.relay.peerId.toString()).totalBytes).toBe(0);
  });

  it('pauses a relayed stream while a friend is over its rate: nothing more crosses until the wait is over', async () => {
    const t = await trio({ bytesPerSec: 64 * KIB, bytesPerDay: 0 });
    stop = t.stop;
    t.hold(true);
    const big = Buffer.alloc(1024 * KIB, 5);
    let done = false;
    const p = echo(t.alice, t.circuit, big).then((b) => {
      done = true;
      return b;
    });
    for (let i = 0; i < 100 && t.waits.length === 0; i++) await sleep(50);
    expect(t.waits.length).toBeGreaterThan(0);
    // each of the two streams stops at its first message over the rate: let both get there
    const count = () => t.budget.count(t.alice.peerId.toString()).totalBytes;
    let seen = count();
    for (let i = 0; i < 50; i++) {
      await sleep(200);
      if (count() === seen) break;
      seen = count();
    }
    await sleep(500);
    // paused: the relay read nothing more, and the megabyte did not get through
    expect(t.budget.count(t.alice.peerId.toString()).totalBytes).toBe(seen);
    expect(seen).toBeLessThan(1024 * KIB);
    expect(done).toBe(false);
    t.hold(false);
    expect(Buffer.compare(Buffer.from(await p), big)).toBe(0);
  });

  it("cuts a friend's relayed connection once its daily volume is used up, refuses new ones that day, and relays again the next day", async () => {
    const t = await trio({ bytesPerSec: 0, bytesPerDay: 256 * KIB });
    stop = t.stop;
    await expect(echo(t.alice, t.circuit, Buffer.alloc(1024 * KIB, 1))).rejects.toThrow();
    expect(t.budget.exhausted(t.alice.peerId.toString())).toBe(true);
    await t.alice.hangUp(t.bob.peerId);
    await expect(echo(t.alice, t.circuit, Buffer.from('more'))).rejects.toThrow(/PERMISSION_DENIED/);
    t.clock.t += 86_400_000;
    expect(Buffer.from(await echo(t.alice, t.circuit, Buffer.from('next day'))).toString()).toBe('next day');
    expect(t.budget.count(t.alice.peerId.toString()).todayBytes).toBeLessThan(64 * KIB);
  });
});

describe('relay budgets across a restart (relay-budget-file.ts)', () => {
  let stop: (() => Promise<unknown>) | undefined;
  const files: RelayBudgetFile[] = [];
  afterEach(async () => {
    for (const f of files.splice(0)) await f.stop();
    await stop?.();
    stop = undefined;
  });
  /** A started RelayBudgetFile, stopped after the test. */
  const kept = async (path: string, budget: RelayBudget, opts: ConstructorParameters<typeof RelayBudgetFile>[2] = {}) => {
    const f = new RelayBudgetFile(path, budget, opts);
    await f.start();
    files.push(f);
    return f;
  };

  it("a restart on the same UTC day goes on from the day's volume: a friend that used it up stays over it, until the next day", async () => {
    const limits = { bytesPerSec: 0, bytesPerDay: 256 * KIB };
    const t = await trio(limits);
    stop = t.stop;
    const path = relayBudgetPath(await tempDir());
    // an hour between saves: what is on disk is what stop wrote
    const file = await kept(path, t.budget, { intervalMs: 3_600_000 });
    await expect(echo(t.alice, t.circuit, Buffer.alloc(1024 * KIB, 1))).rejects.toThrow();
    const alice = t.alice.peerId.toString();
    const used = t.budget.count(alice).todayBytes;
    expect(used).toBeGreaterThanOrEqual(256 * KIB);
    await file.stop();
    // the restarted relay: a new budget (counts in memory start empty), the same home
    const again = new RelayBudget(limits, t.clock);
    const file2 = await kept(path, again);
    expect(again.count(alice).todayBytes).toBe(used);
    expect(again.count(t.bob.peerId.toString()).todayBytes).toBe(t.budget.count(t.bob.peerId.toString()).todayBytes);
    expect(again.exhausted(alice)).toBe(true);
    await file2.stop();
    // the next day's start: that day's volume is whole again
    t.clock.t += 86_400_000;
    const nextDay = new RelayBudget(limits, t.clock);
    await kept(path, nextDay);
    expect(nextDay.count(alice).todayBytes).toBe(0);
    expect(nextDay.exhausted(alice)).toBe(false);
  });

  it('saves at most once an interval while the relay carries bytes, so a crash keeps what was saved; nothing while it carries none', async () => {
    const t = await trio({ bytesPerSec: 0, bytesPerDay: 0 });
    stop = t.stop;
    const path = relayBudgetPath(await tempDir());
    await kept(path, t.budget, { intervalMs: 50 });
    await sleep(200);
    await expect(stat(path)).rejects.toThrow(/ENOENT/);
    const big = Buffer.alloc(512 * KIB, 3);
    expect(Buffer.compare(Buffer.from(await echo(t.alice, t.circuit, big)), big)).toBe(0);
    const alice = t.alice.peerId.toString();
    // no stop: what a crash would leave, once the last bytes counted were saved
    const saved = async () => {
      const text = await readFile(path, 'utf8').catch(() => '{}');
      return (JSON.parse(text) as { bytes?: Record<string, number> }).bytes?.[alice] ?? 0;
    };
    await expect.poll(async () => (await saved()) === t.budget.count(alice).todayBytes && (await saved()) >= 1024 * KIB).toBe(true);
    const again = new RelayBudget({ bytesPerSec: 0, bytesPerDay: 0 }, t.clock);
    await kept(path, again);
    expect(again.count(alice).todayBytes).toBe(await saved());
  });

  it('a file of an earlier day is not taken back; a damaged one is logged and the day starts from 0', async () => {
    const clock = { now: () => Date.UTC(2026, 11, 5, 12) };
    const today = Math.floor(clock.now() / 86_400_000);
    const dir = await tempDir();
    const path = relayBudgetPath(dir);
    const peer = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo';
    await writeFile(path, JSON.stringify({ version: 1, day: today - 1, bytes: { [peer]: 5000 } }));
    const yesterday = new RelayBudget({ bytesPerSec: 0, bytesPerDay: 0 }, clock);
    await kept(path, yesterday);
    expect(yesterday.count(peer).todayBytes).toBe(0);
    for (const bad of [
      '{"version":1,"day":',
      JSON.stringify({ version: 1, day: today, bytes: { [peer]: -1 } }),
      JSON.stringify({ version: 2, day: today, bytes: {} }),
    ]) {
      await writeFile(path, bad);
      const lines: string[] = [];
      const budget = new RelayBudget({ bytesPerSec: 0, bytesPerDay: 0 }, clock);
      await kept(path, budget, { log: (l) => lines.push(l) });
      expect(budget.count(peer).todayBytes).toBe(0);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/relay-budget\.json is damaged .*starts from 0/);
    }
    await writeFile(path, JSON.stringify({ version: 1, day: today, bytes: { [peer]: 5000 } }));
    const ok = new RelayBudget({ bytesPerSec: 0, bytesPerDay: 0 }, clock);
    await kept(path, ok);
    expect(ok.count(peer).todayBytes).toBe(5000);
  });

  it('a file over its caps is not taken back: more than 1,024 friends, or more than 256 KiB', async () => {
    const clock = { now: () => Date.UTC(2026, 11, 5, 12) };
    const today = Math.floor(clock.now() / 86_400_000);
    const path = relayBudgetPath(await tempDir());
    const many = Object.fromEntries(Array.from({ length: MAX_RELAY_METERED_PEERS + 1 }, (_, i) => [`peer-${i}`, 1]));
    // the size cap: a valid file padded past 256 KiB with spaces JSON allows
    const big = `${JSON.stringify({ version: 1, day: today, bytes: { 'peer-0': 1 } })}${' '.repeat(MAX_RELAY_BUDGET_FILE_BYTES)}`;
    for (const [text, why] of [
      [JSON.stringify({ version: 1, day: today, bytes: many }), /1025 friends, more than 1024/],
      [big, /larger than 262144 bytes/],
    ] as const) {
      await writeFile(path, text);
      const lines: string[] = [];
      const budget = new RelayBudget({ bytesPerSec: 0, bytesPerDay: 0 }, clock);
      await kept(path, budget, { log: (l) => lines.push(l) });
      expect(budget.count('peer-0').todayBytes).toBe(0);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(why);
    }
  });
});
