// Consistency hooks around a volume snapshot, configured by labels on the containers that mount the
// volume: `cairn.exec.before` runs in the container first (e.g. pg_dump into the volume), then
// `cairn.stop=true` stops it (or `cairn.pause=true` pauses it); after the snapshot, also when it
// fails, the containers are started (unpaused) again and `cairn.exec.after` runs.
//
// Containers are recorded in CAIRN_HOME/docker-stopped.json before they are stopped or paused, and
// removed once they run again; a later volume backup (or agent start) calls recoverStopped first, so
// an interrupted backup does not leave them down. A `restore --to-volume --force` stops the
// containers of the volume it replaces the same way.
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import type { HookLogEntry } from '../../../protocol/api.js';
import type { Clock } from '../util/clock.js';
import { CairnError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fsx.js';
import type { ConsistencyOverride } from '../../../protocol/config.js';
import { connectDocker, LABEL_EXEC_AFTER, LABEL_EXEC_BEFORE, LABEL_EXEC_TIMEOUT, LABEL_PAUSE, LABEL_STOP, labelTrue, type DiscoveredVolume } from './docker.js';

export const STOPPED_FILE = 'docker-stopped.json';
export const DEFAULT_EXEC_TIMEOUT_MS = 5 * 60_000;
/** Output kept per exec hook (the tail, if longer). */
const MAX_OUTPUT = 64 * 1024;

export class HookFailedError extends CairnError {
  readonly commandExitCode: number | null;
  readonly output: string;
  constructor(message: string, commandExitCode: number | null, output: string) {
    super('E_HOOK_FAILED', message);
    this.name = 'HookFailedError';
    this.commandExitCode = commandExitCode;
    this.output = output;
  }
}

interface StoppedRecord {
  id: string;
  name: string;
  action: 'stopped' | 'paused';
  since: string;
}

export type HookLogger = (entry: HookLogEntry) => void;

/** A container that mounts one of the volumes being backed up, and what to do with it. */
export interface HookPlan {
  id: string;
  name: string;
  running: boolean;
  paused: boolean;
  stop: boolean;
  pause: boolean;
  execBefore: string | undefined;
  execAfter: string | undefined;
  execTimeoutMs: number;
}

function parseTimeout(v: string | undefined): number {
  if (!v) return DEFAULT_EXEC_TIMEOUT_MS;
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(v.trim());
  if (!m) return DEFAULT_EXEC_TIMEOUT_MS;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Math.max(1, Math.round(Number(m[1]) * unit));
}

/**
 * The containers mounting `volumes`, once each, in name order, with what their labels ask for; a
 * source's `consistency` in cairn.yaml overrides the labels field by field (exec only in
 * `execContainer` when that is set).
 */
export function planHooks(volumes: DiscoveredVolume[], override: ConsistencyOverride = {}): HookPlan[] {
  const byId = new Map<string, HookPlan>();
  for (const v of volumes) {
    for (const c of v.containers) {
      if (byId.has(c.id)) continue;
      const execHere = override.execContainer === undefined || override.execContainer === c.name;
      const stop = override.stop ?? labelTrue(c.labels[LABEL_STOP]);
      byId.set(c.id, {
        id: c.id,
        name: c.name,
        running: c.state === 'running' || c.state === 'paused',
        paused: c.state === 'paused',
        stop,
        pause: !stop && (override.pause ?? labelTrue(c.labels[LABEL_PAUSE])),
        execBefore: (execHere ? override.execBefore : undefined) ?? (c.labels[LABEL_EXEC_BEFORE]?.trim() || undefined),
        execAfter: (execHere ? override.execAfter : undefined) ?? (c.labels[LABEL_EXEC_AFTER]?.trim() || undefined),
        execTimeoutMs: (execHere ? override.execTimeoutMs : undefined) ?? parseTimeout(c.labels[LABEL_EXEC_TIMEOUT]),
      });
    }
  }
  return [...byId.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export class Hooks {
  readonly log: HookLogEntry[] = [];
  private readonly file: string;

  constructor(
    private readonly docker: Docker,
    home: string,
    private readonly clock: Clock,
    private readonly onLog?: HookLogger,
  ) {
    this.file = join(home, STOPPED_FILE);
  }

  private note(entry: Omit<HookLogEntry, 'time'>): void {
    const e: HookLogEntry = { time: new Date(this.clock.now()).toISOString(), ...entry };
    this.log.push(e);
    this.onLog?.(e);
  }

  private async readRecords(): Promise<StoppedRecord[]> {
    try {
      const parsed = JSON.parse(await readFile(this.file, 'utf8')) as { containers?: StoppedRecord[] };
      return Array.isArray(parsed.containers) ? parsed.containers : [];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new CairnError('E_STOPPED_FILE', `cannot read ${this.file}: ${(err as Error).message}`);
    }
  }

  private async writeRecords(records: StoppedRecord[]): Promise<void> {
    if (records.length === 0) await rm(this.file, { force: true });
    else await writeFileAtomic(this.file, Buffer.from(JSON.stringify({ containers: records }, null, 2) + '\n'));
  }

  private async record(r: StoppedRecord): Promise<void> {
    await this.writeRecords([...(await this.readRecords()).filter((x) => x.id !== r.id), r]);
  }

  private async forget(id: string): Promise<void> {
    await this.writeRecords((await this.readRecords()).filter((x) => x.id !== id));
  }

  /** Starts (unpauses) the containers an interrupted backup left stopped (paused). Never throws for one container. */
  async recoverStopped(): Promise<void> {
    for (const r of await this.readRecords()) {
      try {
        await this.resume(r);
        this.note({
          container: r.name,
          action: 'recover',
          message: `${r.action === 'stopped' ? 'started' : 'unpaused'} again after an interrupted backup (${r.action} since ${r.since})`,
        });
        await this.forget(r.id);
      } catch (err) {
        const status = (err as { statusCode?: number }).statusCode;
        if (status === 404) {
          this.note({ container: r.name, action: 'recover', message: `left ${r.action} by an interrupted backup, and since removed` });
          await this.forget(r.id);
        } else this.note({ container: r.name, action: 'recover', message: `could not be resumed after an interrupted backup: ${(err as Error).message}` });
      }
    }
  }

  private async resume(r: Pick<StoppedRecord, 'id' | 'action'>): Promise<void> {
    const c = this.docker.getContainer(r.id);
    const state = (await c.inspect()).State;
    if (r.action === 'paused') {
      if (state.Paused) await c.unpause();
    } else if (!state.Running) await c.start();
  }

  /**
   * Runs `fn` with the containers of `volumes` made consistent around it. With `purpose: 'restore'`
   * every running (or paused) container that mounts them is stopped, whatever its labels, and no
   * exec hook runs: the volume is being replaced under it.
   */
  async around<T>(
    volumes: DiscoveredVolume[],
    fn: () => Promise<T>,
    purpose: 'snapshot' | 'restore' = 'snapshot',
    override: ConsistencyOverride = {},
  ): Promise<T> {
    const plans =
      purpose === 'snapshot'
        ? planHooks(volumes, override)
        : planHooks(volumes).map((p) => ({ ...p, stop: true, pause: false, execBefore: undefined, execAfter: undefined }));
    const held: Array<{ plan: HookPlan; action: 'stopped' | 'paused' }> = [];
    const failures: string[] = [];
    let result: T;
    try {
      // Every exec.before first (one may need another container still running), then stop or pause.
      for (const p of plans) if (p.execBefore) await this.exec(p, 'exec.before', p.execBefore);
      for (const p of plans) {
        if (p.stop && p.running) {
          await this.record({ id: p.id, name: p.name, action: 'stopped', since: new Date(this.clock.now()).toISOString() });
          held.push({ plan: p, action: 'stopped' });
          await this.docker.getContainer(p.id).stop();
          this.note({ container: p.name, action: 'stop', message: `stopped for the ${purpose}` });
        } else if (p.pause && p.running && !p.paused) {
          await this.record({ id: p.id, name: p.name, action: 'paused', since: new Date(this.clock.now()).toISOString() });
          held.push({ plan: p, action: 'paused' });
          await this.docker.getContainer(p.id).pause();
          this.note({ container: p.name, action: 'pause', message: 'paused for the snapshot' });
        }
      }
      result = await fn();
    } finally {
      // Resume in reverse order, whatever happened; a failure to resume one does not keep the others down.
      for (const { plan, action } of held.reverse()) {
        try {
          await this.resume({ id: plan.id, action });
          await this.forget(plan.id);
          this.note({ container: plan.name, action: action === 'stopped' ? 'start' : 'unpause', message: action === 'stopped' ? 'started again' : 'unpaused' });
        } catch (err) {
          failures.push(`${plan.name}: ${(err as Error).message}`);
          this.note({
            container: plan.name,
            action: action === 'stopped' ? 'start' : 'unpause',
            message: `could not be resumed (recorded in ${STOPPED_FILE}, retried by the next volume backup): ${(err as Error).message}`,
          });
        }
      }
    }
    // Reached only when the backup succeeded (else its error is thrown, and these failures are in the log).
    if (failures.length > 0)
      throw new CairnError('E_RESUME_FAILED', `the snapshot was saved, but containers could not be started again: ${failures.join('; ')}`);
    // exec.after runs in containers that run now (those resumed, and those never stopped).
    for (const p of plans) if (p.execAfter) await this.exec(p, 'exec.after', p.execAfter);
    return result;
  }

  /** Runs `sh -c command` in the container; a non-zero exit, a timeout or a stopped container throws HookFailedError. */
  async exec(p: HookPlan, action: 'exec.before' | 'exec.after', command: string): Promise<void> {
    const where = `${action} in container ${p.name}`;
    const container = this.docker.getContainer(p.id);
    const state = (await container.inspect()).State;
    if (!state.Running || state.Paused) {
      const msg = `${where} cannot run: the container is ${state.Paused ? 'paused' : state.Status}`;
      this.note({ container: p.name, action, message: msg });
      throw new HookFailedError(msg, null, '');
    }
    const exec = await container.exec({ Cmd: ['sh', '-c', command], AttachStdout: true, AttachStderr: true, Tty: false });
    const stream = await exec.start({ hijack: true, stdin: false });
    let output = '';
    const sink = new PassThrough();
    sink.on('data', (b: Buffer) => {
      output += b.toString('utf8');
      if (output.length > 2 * MAX_OUTPUT) output = output.slice(-MAX_OUTPUT);
    });
    this.docker.modem.demuxStream(stream, sink, sink);
    let timer: NodeJS.Timeout | undefined;
    const finished = new Promise<'done'>((resolveDone, reject) => {
      stream.on('end', () => resolveDone('done'));
      stream.on('close', () => resolveDone('done'));
      stream.on('error', reject);
    });
    const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), p.execTimeoutMs)));
    const outcome = await Promise.race([finished, timedOut]).finally(() => clearTimeout(timer));
    if (output.length > MAX_OUTPUT) output = output.slice(-MAX_OUTPUT);
    if (outcome === 'timeout') {
      stream.destroy();
      const msg = `${where} did not finish within ${Math.round(p.execTimeoutMs / 1000)}s: ${command}${oneLine(output)}`;
      this.note({ container: p.name, action, message: `timed out after ${Math.round(p.execTimeoutMs / 1000)}s: ${command}`, output });
      throw new HookFailedError(msg, null, output);
    }
    const info = await exec.inspect();
    // The exit code can lag the end of the stream by a moment.
    let exitCode = info.ExitCode;
    for (let i = 0; i < 50 && (info.Running || exitCode === null); i++) {
      await new Promise((r) => setTimeout(r, 100));
      const again = await exec.inspect();
      exitCode = again.ExitCode;
      if (!again.Running) break;
    }
    const code = exitCode ?? -1;
    this.note({ container: p.name, action, message: `${command} exited ${code}`, exitCode: code, output });
    if (code !== 0) throw new HookFailedError(`${where} exited ${code}: ${command}${oneLine(output)}`, code, output);
  }
}

/** Output on the one error line: " — output: ..." (collapsed, cut to 500 characters). */
function oneLine(output: string): string {
  const s = output.replace(/\s+/g, ' ').trim();
  if (!s) return ' (no output)';
  return ` — output: ${s.length > 500 ? `${s.slice(0, 500)}…` : s}`;
}

/**
 * At agent start: starts (unpauses) the containers a killed run left stopped (paused). Talks to
 * Docker only when CAIRN_HOME/docker-stopped.json lists some; an unreachable engine is one log line.
 */
export async function recoverStoppedAtStart(home: string, clock: Clock, log: (line: string) => void): Promise<void> {
  if (!existsSync(join(home, STOPPED_FILE))) return;
  let docker: Docker;
  try {
    docker = await connectDocker();
  } catch (err) {
    log(`docker: ${STOPPED_FILE} lists containers a killed run left stopped, but they cannot be started: ${(err as Error).message}`);
    return;
  }
  const hooks = new Hooks(docker, home, clock, (e) => log(`docker: container ${e.container}: ${e.message}`));
  await hooks.recoverStopped();
}
