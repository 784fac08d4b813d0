// The home's settings files that travel, sealed, in the head (mesh/head-settings.ts): what the
// running agent offers for its next head, and how `cairn recover` writes them into the new home.
// cairn.yaml names secrets only by reference (the passphrase comes from the environment or a file,
// TLS keys are paths), so it carries none; notifications.json holds the webhook's headers and the
// SMTP password, which travel inside the sealed head like the rest of it (SPEC 13.5).
import { link, open, readFile, rm } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { SETTINGS_FILES, type HeadSettings, type SettingsOffer } from '../mesh/head-settings.js';
import { errorMessage } from '../util/errors.js';
import { fsyncDir, tempPathFor, writeFileAtomic } from '../util/fsx.js';

export interface SettingsPaths {
  /** cairn.yaml (CAIRN_HOME/cairn.yaml or --config). */
  config: string;
  /** CAIRN_HOME/notifications.json. */
  notifications: string;
  /** Throws (ConfigError) when cairn.yaml's text would not load: the entry points pass config/load.ts's parseConfig. */
  checkConfig: (text: string, file: string) => unknown;
}

/** Suffix of a recovered file written beside one that was already there. */
export const RECOVERED_SUFFIX = '.recovered';

async function readText(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * The settings as they are now: each file's text when it loads, null when it is absent, undefined
 * when it does not load (mid-edit, or invalid: the agent keeps running the previous one, and the
 * head keeps carrying it).
 */
export async function readSettingsOffer(paths: SettingsPaths, log: (line: string) => void): Promise<SettingsOffer> {
  const offer: SettingsOffer = {};
  const config = await readText(paths.config).catch((err: unknown) => {
    log(`head: cannot read ${paths.config}: ${errorMessage(err)}; the snapshot list keeps carrying the previous one`);
    return undefined;
  });
  if (config === null) offer.config = null;
  else if (config !== undefined) {
    try {
      paths.checkConfig(config, paths.config);
      offer.config = config;
    } catch {
      // the watcher reports the problems; the previous text stays in the head
    }
  }
  const notifications = await readText(paths.notifications).catch((err: unknown) => {
    log(`head: cannot read ${paths.notifications}: ${errorMessage(err)}; the snapshot list keeps carrying the previous one`);
    return undefined;
  });
  if (notifications === null) offer.notifications = null;
  else if (notifications !== undefined) {
    try {
      JSON.parse(notifications);
      offer.notifications = notifications;
    } catch {
      // the notifier refuses it too; the previous text stays in the head
    }
  }
  return offer;
}

/** Writes `text` at `path` unless something is there (never replaced); false when something was. */
async function writeIfAbsent(path: string, text: string): Promise<boolean> {
  const tmp = tempPathFor(path);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    // link, unlike rename, refuses an existing target: a file made meanwhile is kept too
    await link(tmp, path);
    await fsyncDir(dirname(path));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await rm(tmp, { force: true });
  }
}

export interface RecoveredSettings {
  /** Each file written: where, and whether beside an existing file rather than in its place. */
  written: Array<{ file: string; path: string; beside: boolean }>;
  warnings: string[];
}

/**
 * The settings a head carried, written into the recovered home (mode 0600): each in its place, or,
 * when a file is already there (it is kept), beside it as FILE.recovered. A cairn.yaml that does not
 * load in this version goes beside too, so the agent still starts.
 */
export async function writeRecoveredSettings(settings: HeadSettings, paths: SettingsPaths): Promise<RecoveredSettings> {
  const out: RecoveredSettings = { written: [], warnings: [] };
  for (const [key, file] of SETTINGS_FILES) {
    const text = settings[key];
    if (text === undefined) continue;
    const path = key === 'config' ? paths.config : paths.notifications;
    const beside = `${path}${RECOVERED_SUFFIX}`;
    try {
      let loads = true;
      if (key === 'config') {
        try {
          paths.checkConfig(text, path);
        } catch (err) {
          loads = false;
          out.warnings.push(
            `the recovered ${file} does not load here (${errorMessage(err).split('\n')[0]}): written to ${beside}; fix it and move it to ${path}`,
          );
        }
      }
      if (loads) {
        if (await writeIfAbsent(path, text)) {
          out.written.push({ file, path, beside: false });
          continue;
        }
        out.warnings.push(`${path} already exists and is kept: the recovered ${basename(path)} is in ${beside}`);
      }
      await writeFileAtomic(beside, Buffer.from(text), 0o600);
      out.written.push({ file, path: beside, beside: true });
    } catch (err) {
      out.warnings.push(`the recovered ${file} could not be written to ${path}: ${errorMessage(err)}`);
    }
  }
  return out;
}
