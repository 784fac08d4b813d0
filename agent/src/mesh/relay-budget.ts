// What our circuit relay carries for each friend (SPEC 13.1, "Relay budgets"): every relayed byte
// crosses this host's uplink twice, so the relay meters the two streams it joins for every relayed
// connection and charges each byte to both ends (both are our friends, relay-policy.ts). Per
// friend: a rate (`relay.rate`, one second of burst; over it the stream is paused, so yamux stops
// granting window and the sender waits) and a daily volume (`relay.daily`, per UTC day; over it the
// friend's relayed connections are cut and new ones refused until the day ends). The counts are
// kept in memory and shown per friend (`cairn peers`, `cairn relay status`, /metrics); what each
// friend used today is also kept in a file of the home (relay-budget-file.ts), so a restart on
// the same day goes on from it.
import type { PeerId, Stream } from '@libp2p/interface';
import type { Clock } from '../util/clock.js';
import { realSleep, type Sleep } from '../util/rate-limit.js';
import { holdStream, type RelayedCircuit } from './relay-circuits.js';

const DAY_MS = 86_400_000;
/** Friends whose relay counts are kept; past it the ones idle longest (nothing today) are forgotten first. */
export const MAX_RELAY_METERED_PEERS = 1024;

/** The relay's limits per friend; 0 means unlimited. */
export interface RelayLimits {
  /** Bytes per second relayed for one friend (both directions together). */
  bytesPerSec: number;
  /** Bytes relayed for one friend per UTC day. */
  bytesPerDay: number;
}

/** Per friend: what the relay carried today (UTC) and since the agent started. */
export interface RelayedCount {
  todayBytes: number;
  totalBytes: number;
}

/** What the relay carried per friend on one UTC day (`day`: days since the epoch): what a restart must not forget. */
export interface DayUsage {
  day: number;
  bytes: Map<string, number>;
}

export class RelayBudgetExceededError extends Error {
  override readonly name = 'RelayBudgetExceededError';
}

interface Meter extends RelayedCount {
  day: number;
  tokens: number;
  last: number;
  /** Relayed streams of this friend, cut when its daily volume runs out. */
  streams: Set<Stream>;
}

export class RelayBudget {
  limits: RelayLimits;
  private readonly clock: Clock;
  private readonly sleep: Sleep;
  private readonly meters = new Map<string, Meter>();
  private counted = 0;

  constructor(limits: RelayLimits, clock: Clock, sleep: Sleep = realSleep) {
    this.limits = limits;
    this.clock = clock;
    this.sleep = sleep;
  }

  private meter(peer: string): Meter {
    const now = this.clock.now();
    const day = Math.floor(now / DAY_MS);
    let m = this.meters.get(peer);
    if (!m) {
      if (this.meters.size >= MAX_RELAY_METERED_PEERS) {
        for (const [k, v] of this.meters) if (v.streams.size === 0 && (v.day !== day || v.todayBytes === 0)) this.meters.delete(k);
      }
      m = { day, todayBytes: 0, totalBytes: 0, tokens: this.limits.bytesPerSec, last: now, streams: new Set() };
      this.meters.set(peer, m);
    }
    if (m.day !== day) {
      m.day = day;
      m.todayBytes = 0;
    }
    return m;
  }

  /** Grows with every byte counted: whether the counts changed since it was last read. */
  get changes(): number {
    return this.counted;
  }

  /** What each friend used today (UTC), for those that used anything. */
  usedToday(): DayUsage {
    const day = Math.floor(this.clock.now() / DAY_MS);
    const bytes = new Map<string, number>();
    for (const [peer, m] of this.meters) if (m.day === day && m.todayBytes > 0) bytes.set(peer, m.todayBytes);
    return { day, bytes };
  }

  /**
   * Takes back what friends used today before a restart, added to what was counted since (a
   * `usage` of another day is ignored: that day's volume is over). At most MAX_RELAY_METERED_PEERS.
   */
  restore(usage: DayUsage): void {
    if (usage.day !== Math.floor(this.clock.now() / DAY_MS)) return;
    for (const [peer, n] of [...usage.bytes].slice(0, MAX_RELAY_METERED_PEERS)) {
      if (!Number.isSafeInteger(n) || n <= 0) continue;
      const m = this.meter(peer);
      m.todayBytes += n;
    }
  }

  /** What the relay carried for `peer`. */
  count(peer: string): RelayedCount {
    const m = this.meters.get(peer);
    if (!m) return { todayBytes: 0, totalBytes: 0 };
    const fresh = this.meter(peer);
    return { todayBytes: fresh.todayBytes, totalBytes: fresh.totalBytes };
  }

  /** Every friend the relay carried bytes for since the start. */
  counts(): Map<string, RelayedCount> {
    return new Map([...this.meters.keys()].map((k) => [k, this.count(k)]));
  }

  /** True when `peer` has used up today's volume: its relayed connections are refused (relay-policy.ts). */
  exhausted(peer: string): boolean {
    return this.limits.bytesPerDay > 0 && this.meter(peer).todayBytes >= this.limits.bytesPerDay;
  }

  /**
   * Meters one of the two streams of a relayed connection between `ends` (bytes read from it are
   * the bytes the relay forwards in that direction): each byte counts for both ends; the stream
   * pauses while either end is over its rate, and it is aborted (with the whole relayed
   * connection: the relay then aborts the other stream) once either end is over its daily volume.
   */
  watch(stream: Stream, ends: PeerId[]): void {
    const peers = [...new Set(ends.map((p) => p.toString()))];
    for (const p of peers) this.meter(p).streams.add(stream);
    const onMessage = (evt: { data: { byteLength: number } }): void => {
      const n = evt.data.byteLength;
      this.counted += n;
      let waitMs = 0;
      for (const p of peers) {
        const m = this.meter(p);
        m.todayBytes += n;
        m.totalBytes += n;
        waitMs = Math.max(waitMs, this.take(m, n));
      }
      const over = peers.find((p) => this.exhausted(p));
      if (over !== undefined) {
        this.cut(over);
        return;
      }
      if (waitMs > 0) void this.pauseFor(stream, waitMs);
    };
    stream.addEventListener('message', onMessage);
    stream.addEventListener(
      'close',
      () => {
        stream.removeEventListener('message', onMessage);
        for (const p of peers) this.meters.get(p)?.streams.delete(stream);
      },
      { once: true },
    );
  }

  /** Takes `n` bytes from the friend's rate bucket (one second of burst); how long the stream must wait to pay the debt. */
  private take(m: Meter, n: number): number {
    const rate = this.limits.bytesPerSec;
    if (rate <= 0) return 0;
    const now = this.clock.now();
    m.tokens = Math.min(rate, m.tokens + (Math.max(0, now - m.last) / 1000) * rate);
    m.last = now;
    m.tokens -= n;
    return m.tokens >= 0 ? 0 : Math.ceil((-m.tokens / rate) * 1000);
  }

  /** Holds `stream` for `ms` (unless the rate holds it already). */
  private async pauseFor(stream: Stream, ms: number): Promise<void> {
    const release = holdStream(stream, 'over the rate');
    if (!release) return;
    try {
      await this.sleep(ms);
    } finally {
      release();
    }
  }

  /** Meters both streams of a relayed connection (watch). */
  watchCircuit(c: RelayedCircuit): void {
    this.watch(c.source, [c.sourcePeer, c.destinationPeer]);
    this.watch(c.destination, [c.sourcePeer, c.destinationPeer]);
  }

  /** Cuts every relayed stream of `peer` (its daily volume is used up). */
  private cut(peer: string): void {
    const m = this.meters.get(peer);
    if (!m) return;
    const err = new RelayBudgetExceededError(
      `relayed ${m.todayBytes} bytes for ${peer} today: over the daily relay volume of ${this.limits.bytesPerDay} bytes`,
    );
    for (const s of [...m.streams]) {
      m.streams.delete(s);
      s.abort(err);
    }
  }
}
