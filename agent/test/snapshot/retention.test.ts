// The retention policy function, table-driven over snapshot histories: gaps of days and weeks,
// several snapshots a day, DST changes in Europe/Berlin and America/New_York, the same history in
// another zone, ISO weeks across a year end, future snapshots, pins, tags, ties. Every expected kept
// set is written out by hand (from restic's rules), never computed by the code under test.
import { describe, expect, test } from 'vitest';
import type { RetentionPolicy } from '../../../protocol/config.js';
import {
  applyPolicyToGroup,
  applyRetention,
  describePolicy,
  formatWithin,
  isoWeek,
  parseKeepWithin,
  validatePolicy,
  type RetentionSnapshot,
} from '../../src/snapshot/retention.js';

const H = 3_600_000;
const D = 24 * H;

interface Extra {
  tags?: string[];
  pinned?: boolean;
  source?: string;
  paths?: string[];
}

function snap(time: string, extra: Extra = {}): RetentionSnapshot {
  return {
    id: `id-${time}`,
    time,
    tags: extra.tags ?? [],
    paths: extra.paths ?? ['/data'],
    pinned: extra.pinned ?? false,
    ...(extra.source !== undefined ? { source: extra.source } : {}),
  };
}

/** `count` snapshots every `stepMs` from `start` (UTC ISO). */
function every(start: string, stepMs: number, count: number): RetentionSnapshot[] {
  const t0 = Date.parse(start);
  return Array.from({ length: count }, (_, i) => snap(new Date(t0 + i * stepMs).toISOString()));
}

const FAR_FUTURE = Date.parse('2100-01-01T00:00:00Z');

/** Kept snapshots' times, newest first, as written in the tables ("…:00.000Z" trimmed to "…:00Z"). */
function kept(list: RetentionSnapshot[], policy: RetentionPolicy, timeZone: string, nowMs = FAR_FUTURE): string[] {
  return applyPolicyToGroup(list, policy, { timeZone, nowMs })
    .filter((d) => d.keep)
    .map((d) => d.snapshot.time.replace(/:00\.000Z$/, ':00Z').replace(/\.000Z$/, 'Z'));
}

function reasonsOf(list: RetentionSnapshot[], policy: RetentionPolicy, timeZone: string, nowMs = FAR_FUTURE): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const d of applyPolicyToGroup(list, policy, { timeZone, nowMs })) out[d.snapshot.time] = d.reasons.map((r) => r.text);
  return out;
}

// History A (UTC): several a day, gaps of days and weeks. 2024-01-01 is a Monday (ISO 2024-W01).
const A = [
  snap('2024-01-01T10:00:00Z'),
  snap('2024-01-01T18:00:00Z', { tags: ['release', 'x'] }),
  snap('2024-01-02T09:00:00Z'),
  snap('2024-01-05T12:00:00Z', { tags: ['release'] }),
  snap('2024-01-05T13:00:00Z'),
  snap('2024-01-05T23:59:00Z'),
  snap('2024-01-20T08:00:00Z'),
  snap('2024-02-03T08:00:00Z'),
  snap('2024-02-03T08:30:00Z'),
];

describe('restic rules over a history with gaps and several snapshots a day (UTC)', () => {
  test.each<[string, RetentionPolicy, string[]]>([
    ['keep-last 3', { keepLast: 3 }, ['2024-02-03T08:30:00Z', '2024-02-03T08:00:00Z', '2024-01-20T08:00:00Z']],
    ['keep-hourly 4', { keepHourly: 4 }, ['2024-02-03T08:30:00Z', '2024-01-20T08:00:00Z', '2024-01-05T23:59:00Z', '2024-01-05T13:00:00Z']],
    ['keep-daily 3', { keepDaily: 3 }, ['2024-02-03T08:30:00Z', '2024-01-20T08:00:00Z', '2024-01-05T23:59:00Z']],
    // counts left at the end: the oldest snapshot is kept too (restic 0.17+)
    [
      'keep-daily 10',
      { keepDaily: 10 },
      ['2024-02-03T08:30:00Z', '2024-01-20T08:00:00Z', '2024-01-05T23:59:00Z', '2024-01-02T09:00:00Z', '2024-01-01T18:00:00Z', '2024-01-01T10:00:00Z'],
    ],
    [
      'keep-daily unlimited',
      { keepDaily: -1 },
      ['2024-02-03T08:30:00Z', '2024-01-20T08:00:00Z', '2024-01-05T23:59:00Z', '2024-01-02T09:00:00Z', '2024-01-01T18:00:00Z', '2024-01-01T10:00:00Z'],
    ],
    ['keep-weekly 2', { keepWeekly: 2 }, ['2024-02-03T08:30:00Z', '2024-01-20T08:00:00Z']],
    ['keep-monthly 2', { keepMonthly: 2 }, ['2024-02-03T08:30:00Z', '2024-01-20T08:00:00Z']],
    ['keep-yearly 1', { keepYearly: 1 }, ['2024-02-03T08:30:00Z']],
    ['keep-within 15d', { keepWithinMs: 15 * D }, ['2024-02-03T08:30:00Z', '2024-02-03T08:00:00Z', '2024-01-20T08:00:00Z']],
    // strictly after newest - within: a snapshot exactly at the cutoff goes
    ['keep-within exactly to the third', { keepWithinMs: 14 * D + 30 * 60_000 }, ['2024-02-03T08:30:00Z', '2024-02-03T08:00:00Z']],
    ['keep-within 1 ms more', { keepWithinMs: 14 * D + 30 * 60_000 + 1 }, ['2024-02-03T08:30:00Z', '2024-02-03T08:00:00Z', '2024-01-20T08:00:00Z']],
    ['keep-tag release (latest kept too)', { keepTags: ['release'] }, ['2024-02-03T08:30:00Z', '2024-01-05T12:00:00Z', '2024-01-01T18:00:00Z']],
    ['keep-tag nothing matches: only latest', { keepTags: ['nope'] }, ['2024-02-03T08:30:00Z']],
    [
      'last 1 + daily 2 + monthly 3 (oldest fills monthly)',
      { keepLast: 1, keepDaily: 2, keepMonthly: 3 },
      ['2024-02-03T08:30:00Z', '2024-01-20T08:00:00Z', '2024-01-01T10:00:00Z'],
    ],
    ['empty policy keeps everything', {}, A.map((s) => s.time).reverse()],
    ['zero counts are an empty policy', { keepLast: 0, keepDaily: 0, keepTags: [] }, A.map((s) => s.time).reverse()],
  ])('%s', (_name, policy, expected) => {
    expect(kept(A, policy, 'UTC')).toEqual(expected);
  });

  test("reasons read like restic's, in rule order, with the Cairn rules last", () => {
    const r = reasonsOf(A, { keepLast: 1, keepDaily: 2, keepMonthly: 3, keepTags: ['release'], keepWithinMs: 1 * H }, 'UTC');
    expect(r['2024-02-03T08:30:00Z']).toEqual(['within 1h', 'last 1 of 1', 'daily 1 of 2', 'monthly 1 of 3', 'latest']);
    expect(r['2024-02-03T08:00:00Z']).toEqual(['within 1h']);
    expect(r['2024-01-20T08:00:00Z']).toEqual(['daily 2 of 2', 'monthly 2 of 3']);
    expect(r['2024-01-05T12:00:00Z']).toEqual(['tag release']);
    expect(r['2024-01-01T18:00:00Z']).toEqual(['tag release']);
    expect(r['2024-01-01T10:00:00Z']).toEqual(['oldest monthly 3 of 3']);
    expect(r['2024-01-05T23:59:00Z']).toEqual([]);
    const unlimited = reasonsOf(A, { keepDaily: -1 }, 'UTC');
    expect(unlimited['2024-01-02T09:00:00Z']).toEqual(['daily (unlimited)']);
    expect(unlimited['2024-01-01T10:00:00Z']).toEqual(['oldest daily (unlimited)']);
    expect(reasonsOf(A, {}, 'UTC')['2024-01-02T09:00:00Z']).toEqual(['policy is empty: nothing is removed']);
  });

  test('a pinned snapshot is kept whatever the policy; unpinned it goes', () => {
    const pinned = A.map((s) => (s.time === '2024-01-02T09:00:00Z' ? { ...s, pinned: true } : s));
    expect(kept(pinned, { keepLast: 1 }, 'UTC')).toEqual(['2024-02-03T08:30:00Z', '2024-01-02T09:00:00Z']);
    expect(reasonsOf(pinned, { keepLast: 1 }, 'UTC')['2024-01-02T09:00:00Z']).toEqual(['pinned']);
    expect(kept(A, { keepLast: 1 }, 'UTC')).toEqual(['2024-02-03T08:30:00Z']);
  });

  test('keep-within counts from the newest snapshot that is not in the future', () => {
    // now 08:15: the 08:30 snapshot is in the future, so "newest" is 08:00; cutoff 07:40
    expect(kept(A, { keepWithinMs: 20 * 60_000 }, 'UTC', Date.parse('2024-02-03T08:15:00Z'))).toEqual(['2024-02-03T08:30:00Z', '2024-02-03T08:00:00Z']);
    // now later: newest is 08:30, cutoff 08:10
    expect(kept(A, { keepWithinMs: 20 * 60_000 }, 'UTC', Date.parse('2024-02-03T09:00:00Z'))).toEqual(['2024-02-03T08:30:00Z']);
    // every snapshot in the future: keep-within keeps them all (restic: latest is the zero time)
    expect(kept(A, { keepWithinMs: 1 * H }, 'UTC', Date.parse('2023-01-01T00:00:00Z'))).toHaveLength(A.length);
  });

  test('the input order does not matter; equal times are ordered by ID', () => {
    const shuffled = [A[4], A[0], A[8], A[2], A[6], A[1], A[7], A[3], A[5]] as RetentionSnapshot[];
    expect(kept(shuffled, { keepDaily: 3, keepTags: ['x'] }, 'UTC')).toEqual(kept(A, { keepDaily: 3, keepTags: ['x'] }, 'UTC'));
    const tie = [
      { ...snap('2024-05-01T00:00:00Z'), id: 'aa' },
      { ...snap('2024-05-01T00:00:00Z'), id: 'bb' },
    ];
    for (const list of [tie, [...tie].reverse()]) {
      expect(
        applyPolicyToGroup(list, { keepLast: 1 }, { timeZone: 'UTC', nowMs: FAR_FUTURE })
          .filter((d) => d.keep)
          .map((d) => d.snapshot.id),
      ).toEqual(['bb']);
    }
  });

  test('times with an explicit offset are the same instants', () => {
    const withOffsets = [snap('2024-03-01T23:30:00+01:00'), snap('2024-03-01T23:30:00Z'), snap('2024-03-02T00:30:00+01:00')];
    // instants 22:30Z, 23:30Z, 23:30Z(+id order) on Mar 1 UTC; in Berlin 23:30, 00:30, 00:30
    expect(
      applyPolicyToGroup(withOffsets, { keepDaily: 5 }, { timeZone: 'Europe/Berlin', nowMs: FAR_FUTURE })
        .filter((d) => d.keep)
        .map((d) => d.snapshot.time),
    ).toEqual(['2024-03-02T00:30:00+01:00', '2024-03-01T23:30:00+01:00']);
  });
});

describe('DST and time zones', () => {
  // Europe/Berlin springs forward 2024-03-31 01:00Z (02:00 CET -> 03:00 CEST)
  const spring = [
    snap('2024-03-30T22:30:00Z'), // Berlin Mar 30 23:30 CET
    snap('2024-03-30T23:30:00Z'), // Berlin Mar 31 00:30 CET
    snap('2024-03-31T00:30:00Z'), // Berlin Mar 31 01:30 CET
    snap('2024-03-31T01:30:00Z'), // Berlin Mar 31 03:30 CEST
    snap('2024-03-31T22:30:00Z'), // Berlin Apr 1 00:30 CEST
  ];
  // Europe/Berlin falls back 2024-10-27 01:00Z (03:00 CEST -> 02:00 CET): 02:xx happens twice
  const fall = [
    snap('2024-10-27T00:15:00Z'), // 02:15 CEST
    snap('2024-10-27T00:45:00Z'), // 02:45 CEST
    snap('2024-10-27T01:15:00Z'), // 02:15 CET
    snap('2024-10-27T01:45:00Z'), // 02:45 CET
    snap('2024-10-27T02:15:00Z'), // 03:15 CET
  ];
  // America/New_York falls back 2024-11-03 06:00Z (02:00 EDT -> 01:00 EST)
  const ny = [
    snap('2024-11-03T04:30:00Z'), // Nov 3 00:30 EDT
    snap('2024-11-03T05:30:00Z'), // Nov 3 01:30 EDT
    snap('2024-11-03T06:30:00Z'), // Nov 3 01:30 EST
    snap('2024-11-03T07:30:00Z'), // Nov 3 02:30 EST
    snap('2024-11-04T04:30:00Z'), // Nov 3 23:30 EST
    snap('2024-11-04T05:30:00Z'), // Nov 4 00:30 EST
  ];
  // America/New_York springs forward 2024-03-10 07:00Z (02:00 EST -> 03:00 EDT)
  const nySpring = [
    snap('2024-03-10T06:30:00Z'), // Mar 10 01:30 EST
    snap('2024-03-10T07:30:00Z'), // Mar 10 03:30 EDT
    snap('2024-03-11T03:30:00Z'), // Mar 10 23:30 EDT
    snap('2024-03-11T04:30:00Z'), // Mar 11 00:30 EDT
  ];
  // ISO weeks across the year end: 2024-12-30 (Monday) starts 2025-W01
  const yearEnd = [
    snap('2024-12-22T12:00:00Z'), // Sun, 2024-W51 everywhere
    snap('2024-12-29T12:00:00Z'), // Sun, 2024-W52 everywhere
    snap('2024-12-29T23:30:00Z'), // UTC Sun Dec 29 (W52); Berlin Mon Dec 30 00:30 (2025-W01)
    snap('2024-12-31T23:30:00Z'), // UTC Tue Dec 31 2024 (2025-W01); Berlin Wed Jan 1 2025 00:30
  ];

  test.each<[string, RetentionSnapshot[], RetentionPolicy, string, string[]]>([
    ['spring daily 3, Berlin', spring, { keepDaily: 3 }, 'Europe/Berlin', ['2024-03-31T22:30:00Z', '2024-03-31T01:30:00Z', '2024-03-30T22:30:00Z']],
    ['spring daily 3, UTC', spring, { keepDaily: 3 }, 'UTC', ['2024-03-31T22:30:00Z', '2024-03-30T23:30:00Z', '2024-03-30T22:30:00Z']],
    ['spring monthly 2, Berlin', spring, { keepMonthly: 2 }, 'Europe/Berlin', ['2024-03-31T22:30:00Z', '2024-03-31T01:30:00Z']],
    ['spring monthly 2, UTC', spring, { keepMonthly: 2 }, 'UTC', ['2024-03-31T22:30:00Z', '2024-03-30T22:30:00Z']],
    [
      'spring hourly 4, Berlin (01:30 CET and 03:30 CEST are different hours)',
      spring,
      { keepHourly: 4 },
      'Europe/Berlin',
      ['2024-03-31T22:30:00Z', '2024-03-31T01:30:00Z', '2024-03-31T00:30:00Z', '2024-03-30T23:30:00Z'],
    ],
    [
      'fall hourly 3, Berlin (the repeated 02:xx is one hour)',
      fall,
      { keepHourly: 3 },
      'Europe/Berlin',
      ['2024-10-27T02:15:00Z', '2024-10-27T01:45:00Z', '2024-10-27T00:15:00Z'],
    ],
    ['fall hourly 2, Berlin', fall, { keepHourly: 2 }, 'Europe/Berlin', ['2024-10-27T02:15:00Z', '2024-10-27T01:45:00Z']],
    ['fall hourly 3, UTC', fall, { keepHourly: 3 }, 'UTC', ['2024-10-27T02:15:00Z', '2024-10-27T01:45:00Z', '2024-10-27T00:45:00Z']],
    ['fall daily 1, Berlin', fall, { keepDaily: 1 }, 'Europe/Berlin', ['2024-10-27T02:15:00Z']],
    ['New York fall daily 2', ny, { keepDaily: 2 }, 'America/New_York', ['2024-11-04T05:30:00Z', '2024-11-04T04:30:00Z']],
    ['New York fall daily 2 in UTC', ny, { keepDaily: 2 }, 'UTC', ['2024-11-04T05:30:00Z', '2024-11-03T07:30:00Z']],
    [
      'New York fall hourly 4 (01:30 EDT and EST share an hour)',
      ny,
      { keepHourly: 4 },
      'America/New_York',
      ['2024-11-04T05:30:00Z', '2024-11-04T04:30:00Z', '2024-11-03T07:30:00Z', '2024-11-03T06:30:00Z'],
    ],
    [
      'New York fall hourly 5',
      ny,
      { keepHourly: 5 },
      'America/New_York',
      ['2024-11-04T05:30:00Z', '2024-11-04T04:30:00Z', '2024-11-03T07:30:00Z', '2024-11-03T06:30:00Z', '2024-11-03T04:30:00Z'],
    ],
    [
      'New York fall daily 2 in Berlin (a zone change re-buckets history)',
      ny,
      { keepDaily: 2 },
      'Europe/Berlin',
      ['2024-11-04T05:30:00Z', '2024-11-03T07:30:00Z'],
    ],
    ['New York spring daily 2', nySpring, { keepDaily: 2 }, 'America/New_York', ['2024-03-11T04:30:00Z', '2024-03-11T03:30:00Z']],
    ['New York spring hourly 2', nySpring, { keepHourly: 2 }, 'America/New_York', ['2024-03-11T04:30:00Z', '2024-03-11T03:30:00Z']],
    ['New York spring daily 2 in UTC', nySpring, { keepDaily: 2 }, 'UTC', ['2024-03-11T04:30:00Z', '2024-03-10T07:30:00Z']],
    ['year end weekly 2, Berlin', yearEnd, { keepWeekly: 2 }, 'Europe/Berlin', ['2024-12-31T23:30:00Z', '2024-12-29T12:00:00Z']],
    ['year end weekly 2, UTC', yearEnd, { keepWeekly: 2 }, 'UTC', ['2024-12-31T23:30:00Z', '2024-12-29T23:30:00Z']],
    ['year end yearly 2, Berlin', yearEnd, { keepYearly: 2 }, 'Europe/Berlin', ['2024-12-31T23:30:00Z', '2024-12-29T23:30:00Z']],
    ['year end yearly 2, UTC (oldest fills the count)', yearEnd, { keepYearly: 2 }, 'UTC', ['2024-12-31T23:30:00Z', '2024-12-22T12:00:00Z']],
    ['year end yearly 2, New York', yearEnd, { keepYearly: 2 }, 'America/New_York', ['2024-12-31T23:30:00Z', '2024-12-22T12:00:00Z']],
  ])('%s', (_name, list, policy, zone, expected) => {
    expect(kept(list, policy, zone)).toEqual(expected);
  });

  // Generated: every 6 hours from 2024-03-01 05:30Z for 60 days (240 snapshots, across Berlin's
  // spring change). 23:30Z belongs to the next day in Berlin, so the newest of a Berlin day is 17:30Z.
  const sixHourly = every('2024-03-01T05:30:00Z', 6 * H, 240);

  test('the generated history spans what the tables say', () => {
    expect(sixHourly.at(-1)?.time).toBe('2024-04-29T23:30:00.000Z');
  });

  test.each<[string, RetentionPolicy, string, string[]]>([
    [
      'daily 7, Berlin',
      { keepDaily: 7 },
      'Europe/Berlin',
      [
        '2024-04-29T23:30:00Z',
        '2024-04-29T17:30:00Z',
        '2024-04-28T17:30:00Z',
        '2024-04-27T17:30:00Z',
        '2024-04-26T17:30:00Z',
        '2024-04-25T17:30:00Z',
        '2024-04-24T17:30:00Z',
      ],
    ],
    [
      'daily 7, UTC',
      { keepDaily: 7 },
      'UTC',
      [
        '2024-04-29T23:30:00Z',
        '2024-04-28T23:30:00Z',
        '2024-04-27T23:30:00Z',
        '2024-04-26T23:30:00Z',
        '2024-04-25T23:30:00Z',
        '2024-04-24T23:30:00Z',
        '2024-04-23T23:30:00Z',
      ],
    ],
    ['weekly 3, Berlin', { keepWeekly: 3 }, 'Europe/Berlin', ['2024-04-29T23:30:00Z', '2024-04-28T17:30:00Z', '2024-04-21T17:30:00Z']],
    ['weekly 3, UTC', { keepWeekly: 3 }, 'UTC', ['2024-04-29T23:30:00Z', '2024-04-28T23:30:00Z', '2024-04-21T23:30:00Z']],
    ['monthly 3, Berlin', { keepMonthly: 3 }, 'Europe/Berlin', ['2024-04-29T23:30:00Z', '2024-03-31T17:30:00Z', '2024-03-01T05:30:00Z']],
    ['monthly 3, UTC', { keepMonthly: 3 }, 'UTC', ['2024-04-29T23:30:00Z', '2024-03-31T23:30:00Z', '2024-03-01T05:30:00Z']],
    [
      'daily 7 + weekly 3 + monthly 3, Berlin',
      { keepDaily: 7, keepWeekly: 3, keepMonthly: 3 },
      'Europe/Berlin',
      [
        '2024-04-29T23:30:00Z',
        '2024-04-29T17:30:00Z',
        '2024-04-28T17:30:00Z',
        '2024-04-27T17:30:00Z',
        '2024-04-26T17:30:00Z',
        '2024-04-25T17:30:00Z',
        '2024-04-24T17:30:00Z',
        '2024-04-21T17:30:00Z',
        '2024-03-31T17:30:00Z',
        '2024-03-01T05:30:00Z',
      ],
    ],
    [
      'within 1d + last 2 (within counts 24 h exactly)',
      { keepWithinMs: 1 * D, keepLast: 2 },
      'Europe/Berlin',
      ['2024-04-29T23:30:00Z', '2024-04-29T17:30:00Z', '2024-04-29T11:30:00Z', '2024-04-29T05:30:00Z'],
    ],
  ])('every 6 hours for 60 days: %s', (_name, policy, zone, expected) => {
    expect(kept(sixHourly, policy, zone)).toEqual(expected);
  });
});

describe('grouping', () => {
  test('by source, else by exact path set (in any order); each group keeps its own latest', () => {
    const list = [
      snap('2024-06-01T10:00:00Z', { source: 'db', paths: ['/var/lib/db'] }),
      snap('2024-06-02T10:00:00Z', { source: 'db', paths: ['/var/lib/db', '/etc/db'] }),
      snap('2024-06-01T11:00:00Z', { paths: ['/a'] }),
      snap('2024-06-03T11:00:00Z', { paths: ['/a'] }),
      snap('2024-06-01T12:00:00Z', { paths: ['/a', '/b'] }),
      snap('2024-06-02T12:00:00Z', { paths: ['/b', '/a'] }),
      snap('2024-06-04T12:00:00Z', { source: 'web', paths: ['/a'] }),
    ];
    const groups = applyRetention(list, { keepTags: ['none'] }, { timeZone: 'UTC', nowMs: FAR_FUTURE });
    expect(groups.map((g) => [g.key, g.decisions.map((d) => [d.snapshot.time, d.keep])])).toEqual([
      [
        'paths:["/a","/b"]',
        [
          ['2024-06-02T12:00:00Z', true],
          ['2024-06-01T12:00:00Z', false],
        ],
      ],
      [
        'paths:["/a"]',
        [
          ['2024-06-03T11:00:00Z', true],
          ['2024-06-01T11:00:00Z', false],
        ],
      ],
      [
        'source:db',
        [
          ['2024-06-02T10:00:00Z', true],
          ['2024-06-01T10:00:00Z', false],
        ],
      ],
      ['source:web', [['2024-06-04T12:00:00Z', true]]],
    ]);
    expect(groups.map((g) => g.source ?? g.paths)).toEqual([['/a', '/b'], ['/a'], 'db', 'web']);
  });

  test('a policy per group: a group without one keeps everything', () => {
    const list = [
      snap('2024-06-01T10:00:00Z', { source: 'db' }),
      snap('2024-06-02T10:00:00Z', { source: 'db' }),
      snap('2024-06-01T11:00:00Z'),
      snap('2024-06-02T11:00:00Z'),
    ];
    const groups = applyRetention(list, (g) => (g.source === 'db' ? { keepLast: 1 } : undefined), { timeZone: 'UTC', nowMs: FAR_FUTURE });
    expect(groups.map((g) => g.decisions.map((d) => d.keep))).toEqual([
      [true, true],
      [true, false],
    ]);
    expect(groups[0]?.decisions[1]?.reasons.map((r) => r.text)).toEqual(['policy is empty: nothing is removed']);
  });
});

describe('helpers', () => {
  test.each<[number, number, number, number, number]>([
    [2021, 1, 3, 2020, 53],
    [2021, 1, 4, 2021, 1],
    [2024, 12, 29, 2024, 52],
    [2024, 12, 30, 2025, 1],
    [2026, 12, 31, 2026, 53],
    [2027, 1, 1, 2026, 53],
    [2008, 12, 29, 2009, 1],
    [2024, 1, 1, 2024, 1],
  ])('ISO week of %i-%i-%i is %i-W%i', (y, m, d, wy, w) => {
    expect(isoWeek(y, m, d)).toEqual({ year: wy, week: w });
  });

  test('keep-within durations', () => {
    expect(parseKeepWithin('2d')).toBe(2 * D);
    expect(parseKeepWithin('36h')).toBe(36 * H);
    expect(parseKeepWithin('1d12h')).toBe(36 * H);
    expect(parseKeepWithin('2w')).toBe(14 * D);
    for (const bad of ['', '3m', '1y', '1y2d', 'd', '0d', '-1d', '1.5d', '2 days']) expect(() => parseKeepWithin(bad), bad).toThrow(/keep-within/);
    expect(formatWithin(36 * H)).toBe('1d12h');
    expect(formatWithin(90 * 60_000)).toBe('1h30m');
  });

  test('policy validation and description', () => {
    expect(() => validatePolicy({ keepDaily: -2 })).toThrow(/keep-daily/);
    expect(() => validatePolicy({ keepLast: 1.5 })).toThrow(/keep-last/);
    expect(() => validatePolicy({ keepTags: [''] })).toThrow(/keep-tag/);
    expect(() => applyPolicyToGroup(A, { keepLast: 1 }, { timeZone: 'Not/AZone', nowMs: 0 })).toThrow(/not a time zone/);
    expect(describePolicy({ keepLast: 3, keepDaily: -1, keepWithinMs: 2 * D, keepTags: ['a', 'b'] })).toBe(
      'keep last 3, all daily, all within 2d of the newest, tags a, b',
    );
    expect(describePolicy({})).toBe('empty policy (keeps everything)');
  });
});
