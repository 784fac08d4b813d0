// The owner's settings a head carries, sealed with the rest of its state (head-chain.ts): the text
// of cairn.yaml (sources, schedules, retention, ...) and of notifications.json, so that `cairn
// recover` gives a new home its settings back. Friends see only the sealed state's length.
// Together they are bounded by MAX_HEAD_SETTINGS_BYTES: what does not fit is left out, with a line
// saying so, rather than crowding out the snapshot list.
import { MAX_HEAD_SETTINGS_BYTES } from '../../../protocol/mesh.js';

/** What a head carries of the owner's settings; a text absent = not carried. */
export interface HeadSettings {
  /** cairn.yaml as written by its owner. */
  config?: string;
  /** notifications.json (webhook and e-mail settings). */
  notifications?: string;
}

/** The files a head carries, in the order the bound keeps them (the config first). */
export const SETTINGS_FILES = [
  ['config', 'cairn.yaml'],
  ['notifications', 'notifications.json'],
] as const satisfies ReadonlyArray<readonly [keyof HeadSettings, string]>;

/**
 * What the agent offers for its next head: each file's text, null when there is none (the file was
 * removed), undefined when it cannot tell (the file does not load now): the previous head's stays.
 */
export type SettingsOffer = { [K in keyof HeadSettings]?: string | null };

/** Reads the owner's current settings for a head; absent (the CLI's short-lived meshes): the previous head's stay. */
export type SettingsSource = () => Promise<SettingsOffer>;

/** The offer applied over what the previous head carried. */
export function mergeSettings(prev: HeadSettings, offer: SettingsOffer | undefined): HeadSettings {
  const out: HeadSettings = {};
  for (const [key] of SETTINGS_FILES) {
    const v = offer?.[key] === undefined ? prev[key] : offer[key];
    if (typeof v === 'string') out[key] = v;
  }
  return out;
}

/** Bytes `s` takes in the sealed state (its JSON). */
export function settingsBytes(s: HeadSettings): number {
  return Buffer.byteLength(JSON.stringify(s));
}

/**
 * `s` within `maxBytes` (the config first, then the notifications): a text that would not fit is
 * left out, and `omitted` says which and why, one line each.
 */
export function boundSettings(s: HeadSettings, maxBytes = MAX_HEAD_SETTINGS_BYTES): { settings: HeadSettings; omitted: string[] } {
  const settings: HeadSettings = {};
  const omitted: string[] = [];
  for (const [key, file] of SETTINGS_FILES) {
    const text = s[key];
    if (text === undefined) continue;
    const withIt = { ...settings, [key]: text };
    if (settingsBytes(withIt) <= maxBytes) settings[key] = text;
    else
      omitted.push(
        `${file} (${Buffer.byteLength(text)} bytes) is left out of the snapshot list sent to friends: a head carries at most ${maxBytes / 1024} KiB of settings, so a recovered home would not get this ${file} back`,
      );
  }
  return { settings, omitted };
}

/** The settings of an opened head's state: only string texts count (older heads carry none). */
export function settingsOf(v: unknown): HeadSettings {
  const out: HeadSettings = {};
  if (typeof v !== 'object' || v === null) return out;
  for (const [key] of SETTINGS_FILES) {
    const text = (v as Record<string, unknown>)[key];
    if (typeof text === 'string') out[key] = text;
  }
  return out;
}
