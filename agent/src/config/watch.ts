// Keeps the agent's config current: reloads cairn.yaml when the file changes (editors often replace
// the file, so its directory is watched) and on SIGHUP. A valid new config replaces the old one and
// is handed to every subscriber; an invalid one is logged, one line per problem, and the running
// config stays. Running work is never interrupted by a reload: subscribers apply what they can.
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { CairnConfig } from '../../../protocol/config.js';
import { errorMessage } from '../util/errors.js';
import { editConfigFile } from './edit.js';
import { ConfigError, loadConfig } from './load.js';

/** Wait after the last file event before reading (editors write in several steps). */
const RELOAD_DEBOUNCE_MS = 300;

export type ConfigListener = (next: CairnConfig, previous: CairnConfig) => void;

export class ConfigWatcher {
  readonly file: string;
  private config: CairnConfig;
  private readonly effective: (c: CairnConfig) => CairnConfig;
  private readonly log: (line: string) => void;
  private readonly listeners: ConfigListener[] = [];
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reloading: Promise<boolean> = Promise.resolve(true);
  private readonly onHup = () => void this.reload('SIGHUP');

  /**
   * `initial` is the already effective config; `effective` turns a freshly loaded file into the
   * effective config (command-line flags override the file, also after a reload).
   */
  constructor(file: string, initial: CairnConfig, effective: (c: CairnConfig) => CairnConfig, log: (line: string) => void) {
    this.file = file;
    this.config = initial;
    this.effective = effective;
    this.log = log;
  }

  get current(): CairnConfig {
    return this.config;
  }

  onChange(cb: ConfigListener): void {
    this.listeners.push(cb);
  }

  start(): void {
    const name = basename(this.file);
    try {
      this.watcher = watch(dirname(this.file), { persistent: false }, (_event, changed) => {
        if (changed !== null && changed !== name) return;
        if (this.timer) clearTimeout(this.timer);
        this.timer = setTimeout(() => void this.reload('file changed'), RELOAD_DEBOUNCE_MS);
        this.timer.unref();
      });
      this.watcher.on('error', (err) => this.log(`config: watching ${this.file} stopped: ${errorMessage(err)} (SIGHUP still reloads)`));
    } catch (err) {
      this.log(`config: cannot watch ${this.file}: ${errorMessage(err)} (SIGHUP still reloads)`);
    }
    process.on('SIGHUP', this.onHup);
  }

  /**
   * Rewrites the file with `change` (which checks the new text and throws ConfigError when it would
   * not load), then reloads; queued with reloads, so two edits never interleave. True when the new
   * file is in place and running.
   */
  edit(change: (text: string) => string, why: string): Promise<boolean> {
    const done = this.reloading.then(async () => {
      await editConfigFile(this.file, change);
      return this.reloadNow(why);
    });
    this.reloading = done.catch(() => false);
    return done;
  }

  /** Reloads now; true when a valid config is in place afterwards (changed or not). */
  reload(why: string): Promise<boolean> {
    this.reloading = this.reloading.then(() => this.reloadNow(why));
    return this.reloading;
  }

  private async reloadNow(why: string): Promise<boolean> {
    let next: CairnConfig;
    try {
      next = this.effective(await loadConfig(this.file, { optional: true }));
    } catch (err) {
      const lines = err instanceof ConfigError ? err.lines : [errorMessage(err)];
      this.log(`config: ${why}, but the new ${this.file} is invalid; keeping the running config:`);
      for (const line of lines) this.log(`config:   ${line}`);
      return false;
    }
    if (JSON.stringify(next) === JSON.stringify(this.config)) return true;
    const previous = this.config;
    this.config = next;
    this.log(`config: ${why}: reloaded ${this.file}`);
    for (const cb of this.listeners) {
      try {
        cb(next, previous);
      } catch (err) {
        this.log(`config: applying the new config failed: ${errorMessage(err)}`);
      }
    }
    return true;
  }

  stop(): void {
    process.off('SIGHUP', this.onHup);
    this.watcher?.close();
    if (this.timer) clearTimeout(this.timer);
  }
}
