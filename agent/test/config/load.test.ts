// cairn.yaml parsing: every kind of mistake is reported with its line and field, all at once;
// valid files give the expected effective config with defaults filled in.
import { describe, expect, test } from 'vitest';
import { CONFIG_DEFAULTS } from '../../../protocol/config.js';
import { EXAMPLE_CONFIG } from '../../src/config/example.js';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load.js';
import { defaultConfig } from '../../src/config/with-defaults.js';

function problems(text: string): string[] {
  try {
    parseConfig(text, '/etc/cairn/cairn.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(2);
    return (err as ConfigError).lines;
  }
  throw new Error('expected the config to be refused');
}

describe('invalid configs name the line and the field', () => {
  const cases: Array<[string, string, string[]]> = [
    ['unknown top-level key, with a hint', 'replicas: 2\nreplica: 3\n', ['cairn.yaml:2: replica: unknown key (did you mean "replicas"?)']],
    ['unknown key without a near match', 'colour: blue\n', ['cairn.yaml:1: colour: unknown key (known: ']],
    [
      'unknown key inside a source',
      'sources:\n  - name: db\n    paths: [/srv]\n    shedule: "0 * * * *"\n',
      ['cairn.yaml:4: sources[0].shedule: unknown key (did you mean "schedule"?)'],
    ],
    [
      'bad cron field',
      'sources:\n  - name: db\n    paths: [/srv]\n    schedule: "61 * * * *"\n',
      ['cairn.yaml:4: sources[0].schedule: "61 * * * *" is not a valid cron expression (minute: 61 is a invalid expression for minute)'],
    ],
    [
      'cron with too few fields',
      'maintenance:\n  prune: "0 3"\n',
      ['cairn.yaml:2: maintenance.prune: "0 3" is not a valid cron expression (expected 5 or 6 fields but got 2)'],
    ],
    ['bad size', 'friends:\n  grant: 10 gigs\n', ['cairn.yaml:2: friends.grant: "10 gigs" is not a size (examples: 500M, 20G, 1T)']],
    ['bad duration', 'friends:\n  deletion-grace: soon\n', ['cairn.yaml:2: friends.deletion-grace: "soon" is not a duration']],
    [
      'bad audit share',
      'friends:\n  audit:\n    daily-share: 150%\n',
      ['cairn.yaml:3: friends.audit.daily-share: "150%" is not a share like 1% (more than 0, at most 100%)'],
    ],
    [
      'audit share without %',
      'friends:\n  audit:\n    daily-share: 0.01\n',
      ['cairn.yaml:3: friends.audit.daily-share: 0.01 is not a share like 1% (more than 0, at most 100%)'],
    ],
    ['wrong type: string for a number', 'replicas: two\n', ['cairn.yaml:1: replicas: expected a whole number from 1 to 16, got "two"']],
    ['wrong type: list for a mapping', 'console: [a, b]\n', ['cairn.yaml:1: console: expected a mapping of keys to values']],
    [
      'wrong type: mapping for a scalar',
      'sources:\n  - name:\n      first: x\n    paths: [/a]\n',
      ['cairn.yaml:3: sources[0].name: expected a single value, got a mapping'],
    ],
    [
      'negative retention count',
      'sources:\n  - name: db\n    paths: [/srv]\n    retention:\n      keep-daily: -3\n',
      ['cairn.yaml:5: sources[0].retention.keep-daily: expected a whole number >= 0 or "unlimited", got -3'],
    ],
    ['relative path', 'sources:\n  - name: db\n    paths: [srv/data]\n', ['cairn.yaml:3: sources[0].paths[0]: "srv/data" is not an absolute path']],
    ['bad source name', 'sources:\n  - name: My DB\n    paths: [/srv]\n', ['cairn.yaml:2: sources[0].name: "My DB" is not a source name']],
    ['missing source name', 'sources:\n  - paths: [/srv]\n', ['cairn.yaml:2: sources[0]: missing name']],
    [
      'duplicate source names',
      'sources:\n  - name: db\n    paths: [/a]\n  - name: db\n    paths: [/b]\n',
      ['cairn.yaml:4: sources[1].name: "db" is already the name of sources[0]'],
    ],
    ['source with nothing to back up', 'sources:\n  - name: db\n    schedule: "0 * * * *"\n', ['cairn.yaml:2: sources[0]: source "db" has nothing to back up']],
    [
      'remote console without allow-remote',
      'console:\n  address: 0.0.0.0:8080\n',
      ['cairn.yaml:2: console.address: 0.0.0.0:8080 is not a loopback address: set "allow-remote: true"'],
    ],
    [
      'console TLS key without its certificate',
      'console:\n  tls-key: /etc/ssl/nas.key\n',
      ['cairn.yaml:2: console.tls-key: tls-cert and tls-key go together: give both or neither'],
    ],
    [
      'console TLS certificate as a relative path',
      'console:\n  tls-cert: nas.crt\n  tls-key: /etc/ssl/nas.key\n',
      ['cairn.yaml:2: console.tls-cert: "nas.crt" is not an absolute path'],
    ],
    ['bad listen multiaddr', 'listen: [tcp://0.0.0.0:4001]\n', ['cairn.yaml:1: listen[0]: "tcp://0.0.0.0:4001" is not a TCP multiaddr']],
    [
      'consistency: stop and pause both',
      'sources:\n  - name: db\n    volumes: [pg]\n    consistency:\n      stop: true\n      pause: true\n',
      ['cairn.yaml:6: sources[0].consistency.pause: stop and pause are both true'],
    ],
    [
      'consistency on a source without volumes',
      'sources:\n  - name: db\n    paths: [/a]\n    consistency:\n      stop: true\n',
      ['cairn.yaml:5: sources[0].consistency: source "db" has no volumes'],
    ],
    [
      'consistency: bad exec-timeout',
      'sources:\n  - name: db\n    volumes: [pg]\n    consistency:\n      exec-timeout: forever\n',
      ['cairn.yaml:5: sources[0].consistency.exec-timeout: "forever" is not a duration'],
    ],
    [
      'bad volume-read',
      'sources:\n  - name: db\n    volumes: [pg]\n    volume-read: tar\n',
      ['cairn.yaml:4: sources[0].volume-read: "tar" is not one of auto, mountpoint, helper'],
    ],
    ['upload limit too low for friends', 'bandwidth-limit: 10K\n', ['cairn.yaml:1: bandwidth-limit: 10240 bytes/s is below 64K']],
    ['key given twice', 'replicas: 2\nreplicas: 3\n', ['cairn.yaml:2: replicas: given twice']],
    ['not YAML at all', 'sources: [\n', ['cairn.yaml:']],
    ['top level is a list', '- a\n- b\n', ['cairn.yaml:1: (top level): expected a mapping of keys to values']],
  ];
  for (const [what, text, expected] of cases) {
    test(what, () => {
      const got = problems(text);
      expect(got).toHaveLength(expected.length);
      expected.forEach((e, i) => expect(got[i]).toContain(e));
      for (const line of got) expect(line).not.toContain('\n');
    });
  }

  test('every problem in a file is reported, in line order', () => {
    const got = problems(
      [
        'replicas: 0',
        'sources:',
        '  - name: ok',
        '    paths: [/a]',
        '    schedule: "* * *"',
        '  - name: Bad!',
        '    paths: [rel]',
        'bandwidth-limit: fast',
        '',
      ].join('\n'),
    );
    expect(got.map((l) => l.split(':').slice(0, 2).join(':'))).toEqual(['cairn.yaml:1', 'cairn.yaml:5', 'cairn.yaml:6', 'cairn.yaml:7', 'cairn.yaml:8']);
  });
});

describe('valid configs', () => {
  test('defaultConfig (a command without a config file) is what an empty file and a missing optional file give', async () => {
    expect(defaultConfig()).toEqual(parseConfig('', 'cairn.yaml'));
    expect(defaultConfig()).toEqual(await loadConfig('/nonexistent/cairn.yaml', { optional: true }));
    expect(defaultConfig()).not.toBe(defaultConfig()); // a fresh object each time: a caller may change its copy
    expect(defaultConfig().listen).not.toBe(defaultConfig().listen);
  });

  test('an empty file is the defaults', () => {
    const c = parseConfig('', 'cairn.yaml');
    expect(c).toEqual({
      sources: [],
      replicas: CONFIG_DEFAULTS.replicas,
      friends: { ...CONFIG_DEFAULTS.friends },
      bandwidthBytesPerSec: 0,
      listen: [...CONFIG_DEFAULTS.listen],
      announce: [],
      lanDiscovery: true,
      portMapping: true,
      relay: { ...CONFIG_DEFAULTS.relay },
      stun: [],
      webrtc: true,
      console: { ...CONFIG_DEFAULTS.console },
      maintenance: {},
      drills: { ...CONFIG_DEFAULTS.drills },
      diskFloorBytes: CONFIG_DEFAULTS.diskFloorBytes,
      replicateIntervalMs: CONFIG_DEFAULTS.replicateIntervalMs,
    });
  });

  test('webrtc: false leaves WebRTC out; anything but a boolean is refused', () => {
    expect(parseConfig('webrtc: false\n', 'cairn.yaml').webrtc).toBe(false);
    expect(parseConfig('', 'cairn.yaml').webrtc).toBe(true);
    expect(() => parseConfig('webrtc: maybe\n', 'cairn.yaml')).toThrow(/cairn\.yaml:1: webrtc/);
  });

  test('stun: STUN server URLs for WebRTC (none by default: no third-party server); anything else is refused', () => {
    expect(parseConfig('stun:\n  - stun:stun.example.org:3478\n  - stun:[2001:db8::1]:3478\n', 'cairn.yaml').stun).toEqual([
      'stun:stun.example.org:3478',
      'stun:[2001:db8::1]:3478',
    ]);
    expect(() => parseConfig('stun:\n  - https://stun.example.org\n', 'cairn.yaml')).toThrow(/cairn\.yaml:2: stun.*is not a STUN server URL/);
  });

  test('lan-discovery and port-mapping turn off with false; anything but true or false is refused', () => {
    expect(parseConfig('lan-discovery: false\nport-mapping: false\n', 'cairn.yaml')).toMatchObject({ lanDiscovery: false, portMapping: false });
    expect(() => parseConfig('port-mapping: "no"\n', 'cairn.yaml')).toThrow(/cairn\.yaml:1: port-mapping: expected true or false, got "no"/);
  });

  test('relay: rate and daily volume per friend, each defaulting on its own; a rate under 128K (but not 0) is refused', () => {
    expect(parseConfig('relay:\n  rate: 1M\n', 'cairn.yaml').relay).toEqual({ bytesPerSec: 1024 ** 2, bytesPerDay: CONFIG_DEFAULTS.relay.bytesPerDay });
    expect(parseConfig('relay:\n  rate: 0\n  daily: 0\n', 'cairn.yaml').relay).toEqual({ bytesPerSec: 0, bytesPerDay: 0 });
    expect(() => parseConfig('relay:\n  rate: 64K\n', 'cairn.yaml')).toThrow(/cairn\.yaml:2: relay\.rate: 65536 bytes\/s is below 128K/);
  });

  test('friends.audit: period and daily share, each defaulting on its own', () => {
    expect(parseConfig('friends:\n  audit:\n    period: 7d\n    daily-share: 0.5%\n', 'cairn.yaml').friends.audit).toEqual({
      periodMs: 7 * 86_400_000,
      dailyShare: 0.005,
    });
    expect(parseConfig('friends:\n  audit:\n    period: 14d\n', 'cairn.yaml').friends.audit).toEqual({
      ...CONFIG_DEFAULTS.friends.audit,
      periodMs: 14 * 86_400_000,
    });
  });

  test('the example written by --init is all comments, and valid once uncommented', () => {
    expect(parseConfig(EXAMPLE_CONFIG, 'cairn.yaml')).toEqual(parseConfig('', 'cairn.yaml'));
    // the settings start at "# name:"; the lines above them are prose
    const lines = EXAMPLE_CONFIG.split('\n');
    const uncommented = lines
      .slice(lines.findIndex((l) => l.startsWith('# name:')))
      .map((l) => l.replace(/^# ?/, ''))
      .join('\n');
    const c = parseConfig(uncommented, 'cairn.yaml');
    expect(c.name).toBe('nas-at-home');
    expect(c.bandwidthBytesPerSec).toBe(5 * 1024 ** 2);
    expect(c.maintenance).toEqual({ forgetSchedule: '0 3 * * *', pruneSchedule: '30 3 * * 0' });
    expect(c.sources.map((s) => s.name)).toEqual(['postgres', 'labelled', 'photos']);
    expect(c.sources[0]).toEqual({
      name: 'postgres',
      volumes: ['pgdata'],
      volumeSelectors: [],
      paths: [],
      exclude: [],
      schedule: '0 * * * *',
      retention: { keepHourly: 24, keepDaily: 7, keepWeekly: 4, keepMonthly: 12 },
      tags: ['db'],
      consistency: { execBefore: 'pg_dump -U postgres -f /var/lib/postgresql/data/dump.sql', execContainer: 'postgres', execTimeoutMs: 600_000, stop: false },
      volumeRead: 'auto',
    });
    expect(c.sources[1]?.retention).toEqual({ keepLast: 10, keepWithinMs: 30 * 86_400_000, keepTags: ['release'] });
    expect(c.sources[2]?.retention.keepMonthly).toBe(-1);
    expect(c.sources[2]?.exclude).toEqual(['*.tmp', 'cache/', '/srv/photos/thumbnails']);
  });

  test('single values stand for one-element lists; sizes as numbers or text', () => {
    const c = parseConfig(
      'listen: /ip4/127.0.0.1/tcp/4002\ndisk-floor: 1048576\nbandwidth-limit: 1.5M\nsources:\n  - name: a\n    paths: /srv\n    tags: x\n',
      'cairn.yaml',
    );
    expect(c.listen).toEqual(['/ip4/127.0.0.1/tcp/4002']);
    expect(c.diskFloorBytes).toBe(1048576);
    expect(c.bandwidthBytesPerSec).toBe(Math.floor(1.5 * 1024 ** 2));
    expect(c.sources[0]?.paths).toEqual(['/srv']);
    expect(c.sources[0]?.tags).toEqual(['x']);
  });
});
