// The shape of cairn.yaml, declared once: every key (kebab-case in YAML), its type and its checks.
// The loader (load.ts) walks a YAML document against these specs and reports each problem with the
// line it is on; unknown keys are errors (with the nearest known key as a hint), so a typo never
// silently turns a setting off.
import { validateDetailed } from 'node-cron';
import { DURATION_EXAMPLES, durationOrNull, SIZE_EXAMPLES, sizeOrNull } from '../util/units.js';
import { parseKeepWithin } from '../util/keep-within.js';
import { VOLUME_READ_MODES } from '../../../protocol/config.js';

/** A checked scalar: the value, or a message saying what is wrong with it. */
export type Check = (v: unknown) => { value: unknown } | { error: string };

export interface ScalarSpec {
  kind: 'scalar';
  check: Check;
}
export interface ListSpec {
  kind: 'list';
  of: Spec;
  /** Also accept a single item in place of a list. */
  single?: boolean;
}
export interface MapSpec {
  kind: 'map';
  /** YAML key -> [property name in the parsed object, spec]. */
  fields: Record<string, [string, Spec]>;
  required?: string[];
}
export type Spec = ScalarSpec | ListSpec | MapSpec;

const scalar = (check: Check): ScalarSpec => ({ kind: 'scalar', check });
const show = (v: unknown) => (typeof v === 'string' ? `"${v}"` : JSON.stringify(v));

export const str = (pattern?: RegExp, hint?: string): ScalarSpec =>
  scalar((v) => {
    if (typeof v !== 'string' || v.length === 0) return { error: `expected a non-empty string, got ${show(v)}` };
    if (pattern && !pattern.test(v)) return { error: `${show(v)} ${hint ?? `does not match ${pattern}`}` };
    return { value: v };
  });

export const int = (min: number, max = Number.MAX_SAFE_INTEGER): ScalarSpec =>
  scalar((v) =>
    typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max
      ? { value: v }
      : { error: `expected a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}, got ${show(v)}` },
  );

/** A retention count: a whole number >= 0, or "unlimited" (-1, as restic). */
export const count = scalar((v) => {
  if (v === 'unlimited' || v === -1) return { value: -1 };
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? { value: v } : { error: `expected a whole number >= 0 or "unlimited", got ${show(v)}` };
});

export const bool = scalar((v) => (typeof v === 'boolean' ? { value: v } : { error: `expected true or false, got ${show(v)}` }));

/** Bytes: a number, or text like 500M / 20G. */
export const size = scalar((v) => {
  const bytes = typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : typeof v === 'string' ? sizeOrNull(v) : null;
  return bytes === null ? { error: `${show(v)} is not a size (examples: ${SIZE_EXAMPLES})` } : { value: bytes };
});

/** A share, as text like "1%" or "0.5%" (more than 0, at most 100%): the fraction. */
export const percent = scalar((v) => {
  const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)%$/.exec(v) : null;
  const n = m ? Number(m[1]) : NaN;
  return n > 0 && n <= 100 ? { value: n / 100 } : { error: `${show(v)} is not a share like 1% (more than 0, at most 100%)` };
});

export const duration = scalar((v) => {
  const ms = typeof v === 'string' ? durationOrNull(v) : null;
  return ms === null ? { error: `${show(v)} is not a duration (examples: ${DURATION_EXAMPLES})` } : { value: ms };
});

/** keep-within: hours, days, weeks ("36h", "30d", "1d12h"); restic's "m" (months) and "y" are refused, never read as minutes. */
export const keepWithin = scalar((v) => {
  if (typeof v !== 'string') return { error: `expected a duration like 36h, 30d or 2w, got ${show(v)}` };
  try {
    return { value: parseKeepWithin(v) };
  } catch (err) {
    return { error: (err as Error).message.replace(/^keep-within: /, '') };
  }
});

export const cron = scalar((v) => {
  if (typeof v !== 'string') return { error: `expected a cron expression in quotes, got ${show(v)}` };
  const r = validateDetailed(v);
  if (r.valid) return { value: v };
  const why = r.errors.map((e) => (e.field === 'expression' ? e.message : `${e.field}: ${e.message}`)).join('; ');
  return { error: `${show(v)} is not a valid cron expression (${why})` };
});

/** A cron expression, or "off" (never). */
export const cronOrOff = scalar((v) => (v === 'off' ? { value: v } : cron.check(v)));

export const absolutePath = str(/^\//, 'is not an absolute path');
/** An absolute file path. */
export const absPath = str(/^\//, 'is not an absolute path');
export const hostPort = str(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, 'is not HOST:PORT (example: 127.0.0.1:8080)');
export const stunUrl = str(/^stun:(\[[0-9a-fA-F:.]+\]|[^\s:/?#[\]@]+)(:\d{1,5})?$/, 'is not a STUN server URL (example: stun:stun.example.org:3478)');
export const multiaddr = str(/^\/(ip4|ip6|dns4|dns6|dns)\/[^/]+\/tcp\/\d+(\/.*)?$/, 'is not a TCP multiaddr (example: /ip4/0.0.0.0/tcp/4001)');
export const SOURCE_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

const list = (of: Spec, single = false): ListSpec => ({ kind: 'list', of, single });

export const retentionSpec: MapSpec = {
  kind: 'map',
  fields: {
    'keep-last': ['keepLast', count],
    'keep-hourly': ['keepHourly', count],
    'keep-daily': ['keepDaily', count],
    'keep-weekly': ['keepWeekly', count],
    'keep-monthly': ['keepMonthly', count],
    'keep-yearly': ['keepYearly', count],
    'keep-within': ['keepWithinMs', keepWithin],
    'keep-tag': ['keepTags', list(str(), true)],
  },
};

export const sourceSpec: MapSpec = {
  kind: 'map',
  required: ['name'],
  fields: {
    name: ['name', str(SOURCE_NAME, 'is not a source name (lower-case letters, digits, ".", "_", "-"; starting with a letter or digit)')],
    volumes: ['volumes', list(str(), true)],
    'volume-selectors': ['volumeSelectors', list(str(/^[^=\s]+(=.*)?$/, 'is not a label selector (key or key=value)'), true)],
    paths: ['paths', list(absolutePath, true)],
    exclude: ['exclude', list(str(), true)],
    schedule: ['schedule', cron],
    retention: ['retention', retentionSpec],
    tags: ['tags', list(str(/^[^\s,]+$/, 'is not a tag (no spaces or commas)'), true)],
    consistency: [
      'consistency',
      {
        kind: 'map',
        fields: {
          stop: ['stop', bool],
          pause: ['pause', bool],
          'exec-before': ['execBefore', str(/\S/, 'is empty')],
          'exec-after': ['execAfter', str(/\S/, 'is empty')],
          'exec-timeout': ['execTimeoutMs', duration],
          'exec-container': ['execContainer', str(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'is not a container name')],
        },
      },
    ],
    'volume-read': ['volumeRead', str(new RegExp(`^(${VOLUME_READ_MODES.join('|')})$`), `is not one of ${VOLUME_READ_MODES.join(', ')}`)],
  },
};

export const configSpec: MapSpec = {
  kind: 'map',
  fields: {
    name: ['name', str(/^[^\n]{1,64}$/, 'must be one line of at most 64 characters')],
    sources: ['sources', list(sourceSpec)],
    replicas: ['replicas', int(1, 16)],
    friends: [
      'friends',
      {
        kind: 'map',
        fields: {
          grant: ['grantBytes', size],
          'deletion-grace': ['deletionGraceMs', duration],
          'repair-after': ['repairAfterMs', duration],
          audit: [
            'audit',
            {
              kind: 'map',
              fields: {
                period: ['periodMs', duration],
                'daily-share': ['dailyShare', percent],
              },
            },
          ],
        },
      },
    ],
    'bandwidth-limit': ['bandwidthBytesPerSec', size],
    listen: ['listen', list(multiaddr, true)],
    announce: ['announce', list(multiaddr, true)],
    'lan-discovery': ['lanDiscovery', bool],
    'port-mapping': ['portMapping', bool],
    relay: [
      'relay',
      {
        kind: 'map',
        fields: {
          rate: ['bytesPerSec', size],
          daily: ['bytesPerDay', size],
        },
      },
    ],
    stun: ['stun', list(stunUrl, true)],
    webrtc: ['webrtc', bool],
    console: [
      'console',
      {
        kind: 'map',
        fields: {
          address: ['address', hostPort],
          'allow-remote': ['allowRemote', bool],
          'tls-cert': ['tlsCert', absPath],
          'tls-key': ['tlsKey', absPath],
        },
      },
    ],
    maintenance: [
      'maintenance',
      {
        kind: 'map',
        fields: {
          forget: ['forgetSchedule', cron],
          prune: ['pruneSchedule', cron],
        },
      },
    ],
    drills: [
      'drills',
      {
        kind: 'map',
        fields: {
          schedule: ['schedule', cronOrOff],
        },
      },
    ],
    'disk-floor': ['diskFloorBytes', size],
    'replicate-every': ['replicateIntervalMs', duration],
  },
};
