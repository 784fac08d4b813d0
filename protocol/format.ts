// How Cairn shows sizes, times and schedules to people, the same in the CLI, the console, job logs
// and alerts: sizes in binary units (KiB, MiB, ...), times as "YYYY-MM-DD HH:MM:SS" in local time,
// cron schedules in words (cronstrue), how a friend is reached.
import cronstrue from 'cronstrue';
import type { PeerListing } from './api.js';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** `n` bytes in binary units: "512 B", "1.50 KiB", "20.0 GiB". */
export function formatBytes(n: number): string {
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(Math.abs(v) < 10 ? 2 : 1)} ${UNITS[i]}`;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** An ISO time as "YYYY-MM-DD HH:MM:SS" (or without seconds) in this machine's (or browser's) time zone. */
export function formatTime(iso: string, opts: { seconds?: boolean } = {}): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}${opts.seconds === false ? '' : `:${pad(d.getSeconds())}`}`;
  return `${day} ${time}`;
}

/** "1 copy", "3 copies": a count with its noun in the right number. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** How this host reaches a friend right now, in words ("LAN", "direct", "WebRTC", "relayed via pub", "unreachable"): `cairn peers` and the console's Friends page. */
export function reachInWords(p: Pick<PeerListing, 'reach' | 'via'>): string {
  switch (p.reach) {
    case 'lan':
      return 'LAN';
    case 'direct':
      return 'direct';
    case 'webrtc':
      return 'WebRTC';
    case 'relayed':
      return `relayed via ${p.via ?? '?'}`;
    case 'unreachable':
      return 'unreachable';
  }
}

/** A cron schedule in words ("Every 15 minutes", "At 03:00"), or undefined when cronstrue cannot read it. */
export function scheduleInWords(cron: string): string | undefined {
  try {
    return cronstrue.toString(cron, { use24HourTimeFormat: true, verbose: false });
  } catch {
    return undefined;
  }
}
