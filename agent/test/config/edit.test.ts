// The console's cairn.yaml editor: sources are added, replaced and removed while every other line
// (comments, settings, the commented example) stays; an edit that would not load is refused and
// names the line and field, as a hand edit would be.
import { describe, expect, test } from 'vitest';
import { withoutSource, withSource } from '../../src/config/edit.js';
import { EXAMPLE_CONFIG } from '../../src/config/example.js';
import { ConfigError, parseConfig } from '../../src/config/load.js';

const FILE = '/home/cairn/cairn.yaml';

describe('editing sources in cairn.yaml', () => {
  test('add, replace and remove on the commented example: the comments stay, the result loads', () => {
    let text = withSource(EXAMPLE_CONFIG, FILE, {
      name: 'photos',
      paths: ['/srv/photos'],
      schedule: '0 2 * * *',
      retention: { 'keep-daily': 7, 'keep-monthly': 'unlimited' },
      volumes: [],
      exclude: [],
    });
    expect(text.startsWith(EXAMPLE_CONFIG.trimEnd())).toBe(true);
    text = withSource(text, FILE, { name: 'db', volumes: ['pgdata'], tags: ['db'] });
    text = withSource(text, FILE, { name: 'photos', paths: ['/srv/p2'] });
    let c = parseConfig(text, FILE);
    expect(c.sources.map((s) => [s.name, s.paths, s.volumes, s.schedule])).toEqual([
      ['photos', ['/srv/p2'], [], undefined],
      ['db', [], ['pgdata'], undefined],
    ]);
    text = withoutSource(text, FILE, 'photos');
    c = parseConfig(text, FILE);
    expect(c.sources.map((s) => s.name)).toEqual(['db']);
    expect(text).toContain('#   - name: photos'); // the example's own commented source is untouched
  });

  test('other settings and comments of a hand-written file stay', () => {
    const text = withSource('# mine\nreplicas: 3 # three copies\nsources:\n  # the database\n  - name: db\n    volumes: [pgdata]\n', FILE, {
      name: 'www',
      volumes: ['www'],
    });
    expect(text).toContain('# mine');
    expect(text).toContain('# three copies');
    expect(text).toContain('# the database');
    const c = parseConfig(text, FILE);
    expect(c.replicas).toBe(3);
    expect(c.sources.map((s) => s.name)).toEqual(['db', 'www']);
  });

  test('an edit that would not load is refused with the line and the field', () => {
    const base = 'sources:\n  - name: db\n    volumes: [pgdata]\n';
    const refused = (f: () => string) => {
      try {
        f();
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as ConfigError).lines;
      }
      throw new Error('not refused');
    };
    expect(refused(() => withSource(base, FILE, { name: 'x', paths: ['relative/dir'] }))).toEqual([
      expect.stringMatching(/^cairn\.yaml:\d+: sources\[1\]\.paths\[0\]: "relative\/dir" is not an absolute path$/),
    ]);
    expect(refused(() => withSource(base, FILE, { name: 'x', paths: ['/x'], schedule: '61 * * * *' }))[0]).toMatch(
      /sources\[1\]\.schedule: "61 \* \* \* \*" is not a valid cron expression/,
    );
    expect(refused(() => withSource(base, FILE, { name: 'Bad Name', paths: ['/x'] }))[0]).toMatch(/sources\[1\]\.name: .*is not a source name/);
    expect(refused(() => withSource(base, FILE, { name: 'empty' }))[0]).toMatch(/source "empty" has nothing to back up/);
    expect(refused(() => withoutSource(base, FILE, 'nope'))).toEqual(['cairn.yaml: there is no source named "nope"']);
    // a file that is already broken is not built upon
    expect(refused(() => withSource('replicas: many\n', FILE, { name: 'x', paths: ['/x'] }))[0]).toMatch(/^cairn\.yaml:1: replicas/);
  });
});
