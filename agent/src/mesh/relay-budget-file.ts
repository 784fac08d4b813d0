// What the relay's budgets used today, kept across restarts (SPEC 13.1, "Relay budgets"): the
// daily volume per friend (relay-budget.ts) lives in memory, and a relay that restarted (an
// update, a crash, a reboot) would otherwise carry a friend's whole daily volume again. The home
// keeps relay-budget.json, {"version":1,"day":<UTC day>,"bytes":{"<PeerId>":<bytes today>}}, written
// whole (temp file, fsync, rename) at most every RELAY_BUDGET_SAVE_INTERVAL_MS while the counts
// change, and at stop; a start on the same UTC day takes it back. A crash loses at most the last
// interval's counts. A damaged or oversized file is logged and ignored (the day starts again).
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../util/errors.js';
import { writeFileAtomic } from '../util/fsx.js';
import { MAX_RELAY_METERED_PEERS, type DayUsage, type RelayBudget } from './relay-budget.js';
import type { Startable } from './service.js';

export const RELAY_BUDGET_FILE = 'relay-budget.json';
/** The file is written at most this often while the relay carries bytes (and at stop). */
export const RELAY_BUDGET_SAVE_INTERVAL_MS = 30_000;
/** A larger file is not read: MAX_RELAY_METERED_PEERS entries of a PeerId and a byte count take far less. */
export const MAX_RELAY_BUDGET_FILE_BYTES = 256 * 1024;
/** The longest key taken as a friend's PeerId (an Ed25519 PeerId is 52 characters). */
const MAX_PEER_ID_CHARS = 128;

export function relayBudgetPath(home: string): string {
  return join(home, RELAY_BUDGET_FILE);
}

export class RelayBudgetFileError extends Error {
  override readonly name = 'RelayBudgetFileError';
}

/** The file's text as a day's usage; throws RelayBudgetFileError saying what is wrong. */
export function parseRelayBudgetFile(text: string): DayUsage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new RelayBudgetFileError(`not JSON (${errorMessage(err)})`);
  }
  const f = parsed as { version?: unknown; day?: unknown; bytes?: unknown } | null;
  if (f === null || typeof f !== 'object' || f.version !== 1) throw new RelayBudgetFileError('not a version 1 file');
  if (!Number.isSafeInteger(f.day) || (f.day as number) < 0) throw new RelayBudgetFileError('"day" is not a day number');
  if (typeof f.bytes !== 'object' || f.bytes === null || Array.isArray(f.bytes)) throw new RelayBudgetFileError('"bytes" is not an object');
  const entries = Object.entries(f.bytes as Record<string, unknown>);
  if (entries.length > MAX_RELAY_METERED_PEERS) throw new RelayBudgetFileError(`${entries.length} friends, more than ${MAX_RELAY_METERED_PEERS}`);
  const bytes = new Map<string, number>();
  for (const [peer, n] of entries) {
    if (peer.length === 0 || peer.length > MAX_PEER_ID_CHARS) throw new RelayBudgetFileError(`a key of ${peer.length} characters is no PeerId`);
    if (!Number.isSafeInteger(n) || (n as number) < 0) throw new RelayBudgetFileError(`the count of ${peer} is not a byte count`);
    bytes.set(peer, n as number);
  }
  return { day: f.day as number, bytes };
}

export interface RelayBudgetFileOptions {
  intervalMs?: number;
  log?: (line: string) => void;
}

/** Keeps `budget`'s daily usage in `path` (relayBudgetPath of the home): taken back at start, saved while it changes and at stop. */
export class RelayBudgetFile implements Startable {
  private readonly path: string;
  private readonly budget: RelayBudget;
  private readonly intervalMs: number;
  private readonly log: (line: string) => void;
  private timer: NodeJS.Timeout | undefined;
  /** budget.changes as of the last save (or the load): nothing to write while it stays. */
  private savedChanges = 0;
  private saving: Promise<void> = Promise.resolve();

  constructor(path: string, budget: RelayBudget, opts: RelayBudgetFileOptions = {}) {
    this.path = path;
    this.budget = budget;
    this.intervalMs = opts.intervalMs ?? RELAY_BUDGET_SAVE_INTERVAL_MS;
    this.log = opts.log ?? (() => undefined);
  }

  async start(): Promise<void> {
    await this.load();
    this.savedChanges = this.budget.changes;
    this.timer = setInterval(() => void this.save(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.save();
  }

  /** Writes the day's usage if the counts changed since the last write (one write at a time). */
  save(): Promise<void> {
    this.saving = this.saving.then(async () => {
      const changes = this.budget.changes;
      if (changes === this.savedChanges) return;
      const { day, bytes } = this.budget.usedToday();
      const text = `${JSON.stringify({ version: 1, day, bytes: Object.fromEntries(bytes) })}\n`;
      try {
        await writeFileAtomic(this.path, Buffer.from(text), 0o600);
        this.savedChanges = changes;
      } catch (err) {
        this.log(`relay: cannot write ${this.path} (${errorMessage(err)}): a restart today would count friends' relayed volume from its last save`);
      }
    });
    return this.saving;
  }

  private async load(): Promise<void> {
    let text: string;
    try {
      const fh = await open(this.path, 'r');
      try {
        const buf = Buffer.alloc(MAX_RELAY_BUDGET_FILE_BYTES + 1);
        const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
        if (bytesRead > MAX_RELAY_BUDGET_FILE_BYTES) throw new RelayBudgetFileError(`larger than ${MAX_RELAY_BUDGET_FILE_BYTES} bytes`);
        text = buf.subarray(0, bytesRead).toString('utf8');
      } finally {
        await fh.close();
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      this.log(`relay: ${this.path} cannot be read (${errorMessage(err)}): friends' relayed volume today starts from 0`);
      return;
    }
    try {
      this.budget.restore(parseRelayBudgetFile(text));
    } catch (err) {
      this.log(`relay: ${this.path} is damaged (${errorMessage(err)}): friends' relayed volume today starts from 0`);
    }
  }
}
