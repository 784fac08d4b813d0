// Deadlines for what a peer makes us wait on. Every wait on a mesh stream (a frame to arrive, a
// frame to be taken, a dial, a close) has an inactivity timeout, and every exchange an overall
// deadline derived from its size and a minimum pace, so a friend that stalls or drips costs a
// bounded time, then its stream is reset and whatever it held (a reservation, a temp file, a slot
// in a replication round) is freed. Defaults in protocol/mesh.ts (SPEC section 13.2); tests
// inject small values through MeshContext.limits.
import type { Libp2p, PeerId, Stream } from '@libp2p/interface';
import { MAX_MESSAGE_BYTES, MIN_TRANSFER_BYTES_PER_SEC, STREAM_TIMEOUT_MS, TRANSFER_GRACE_MS } from '../../../protocol/mesh.js';
import { CairnError } from '../util/errors.js';

export interface TransferLimits {
  /** Longest wait for one frame, one write, a dial or a close (ms). */
  frameTimeoutMs: number;
  /** Slowest pace an exchange may keep (bytes per second). */
  minBytesPerSec: number;
  /** Time every exchange gets on top of its size-derived share (ms). */
  graceMs: number;
}

export const DEFAULT_TRANSFER_LIMITS: Readonly<TransferLimits> = {
  frameTimeoutMs: STREAM_TIMEOUT_MS,
  minBytesPerSec: MIN_TRANSFER_BYTES_PER_SEC,
  graceMs: TRANSFER_GRACE_MS,
};

/** The defaults with whatever a caller (a test) overrides. */
export function transferLimits(override?: Partial<TransferLimits>): TransferLimits {
  return { ...DEFAULT_TRANSFER_LIMITS, ...override };
}

/** How long an exchange moving `bytes` may take in all. */
export function transferDeadlineMs(bytes: number, l: TransferLimits): number {
  return l.graceMs + Math.ceil((bytes * 1000) / l.minBytesPerSec);
}

/** How long a pack-list of at most `pages` pages may take (a page is at most one JSON message). */
export function listingDeadlineMs(pages: number, l: TransferLimits): number {
  return transferDeadlineMs(pages * MAX_MESSAGE_BYTES, l);
}

/** An exchange did not finish within its overall deadline. */
export class DeadlineError extends CairnError {
  constructor(message: string) {
    super('E_DEADLINE', message);
    this.name = 'DeadlineError';
  }
}

/** A peer sent nothing (or took nothing) for longer than the inactivity timeout. */
export class StalledError extends CairnError {
  constructor(message: string) {
    super('E_STALLED', message);
    this.name = 'StalledError';
  }
}

/**
 * The only connection to a friend goes through a relay that limits relayed connections (libp2p's
 * defaults: 2 min and 128 KiB, i.e. not a Cairn friend's relay): no mesh protocol runs on it.
 */
export class RelayLimitedError extends CairnError {
  constructor(peer: PeerId) {
    super(
      'E_RELAY_LIMITED',
      `${peer.toString()} is reachable only through a relay that limits relayed connections (someone else's relay): packs cannot pass; it needs a direct address or a friend's relay`,
    );
    this.name = 'RelayLimitedError';
  }
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/** An overall deadline: its signal aborts with a DeadlineError when time is up, or with the parent's reason. */
export class Deadline {
  private readonly ac = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly unlink: () => void;

  constructor(ms: number, what: string, parent?: AbortSignal) {
    // setTimeout takes at most 2^31 - 1 ms (about 24 days); longer would fire at once
    this.timer = setTimeout(() => this.ac.abort(new DeadlineError(`${what} did not finish within ${seconds(ms)}`)), Math.min(ms, MAX_TIMER_MS));
    this.timer.unref();
    const onParent = () => this.ac.abort(parent?.reason);
    if (parent?.aborted) onParent();
    parent?.addEventListener('abort', onParent, { once: true });
    this.unlink = () => parent?.removeEventListener('abort', onParent);
  }

  get signal(): AbortSignal {
    return this.ac.signal;
  }

  /** Stops the timer (the exchange is over). */
  dispose(): void {
    clearTimeout(this.timer);
    this.unlink();
  }
}

/**
 * Runs `op` with a signal that aborts after `timeoutMs` of waiting (StalledError naming `what`)
 * or when `deadline` ends (its reason); a failure caused by either throws that reason.
 */
export async function bounded<T>(
  op: (signal: AbortSignal) => Promise<T>,
  opts: { timeoutMs: number; what: string; deadline?: Deadline | undefined },
): Promise<T> {
  const d = opts.deadline?.signal;
  if (d?.aborted) throw d.reason;
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new StalledError(`${opts.what}: nothing happened for ${seconds(opts.timeoutMs)}`)), opts.timeoutMs);
  const onDeadline = () => ac.abort(d?.reason);
  d?.addEventListener('abort', onDeadline, { once: true });
  try {
    return await op(ac.signal);
  } catch (err) {
    if (ac.signal.aborted) throw ac.signal.reason;
    throw err;
  } finally {
    clearTimeout(timer);
    d?.removeEventListener('abort', onDeadline);
  }
}

/** Longest wait to open a stream to a friend (dial, or a new stream on a connection). */
export const DIAL_TIMEOUT_MS = 15_000;

/** Opens a protocol stream to a friend within DIAL_TIMEOUT_MS (or the inactivity timeout, if shorter) and the deadline. */
export async function openStream(node: Libp2p, peer: PeerId, protocol: string, l: TransferLimits, deadline?: Deadline): Promise<Stream> {
  const timeoutMs = Math.min(DIAL_TIMEOUT_MS, l.frameTimeoutMs);
  try {
    return await bounded((signal) => node.dialProtocol(peer, protocol, { signal }), { timeoutMs, what: `opening ${protocol}`, deadline });
  } catch (err) {
    // libp2p refuses our protocols on a limited (relayed) connection: say so once, plainly
    if (err instanceof Error && err.name === 'LimitedConnectionError') throw new RelayLimitedError(peer);
    throw err;
  }
}
