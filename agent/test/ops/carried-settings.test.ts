// The settings files around the head (ops/carried-settings.ts): what the agent offers (a file that
// does not load keeps the previous head's, an absent one is carried no more), and how recover
// writes them back: in place in a fresh home, beside (FILE.recovered) when a file is already there
// (which is kept), and beside too when the recovered cairn.yaml does not load here.
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { readSettingsOffer, writeRecoveredSettings, type SettingsPaths } from '../../src/ops/carried-settings.js';

const CONFIG = 'sources:\n  - name: docs\n    paths: [/srv/docs]\n    schedule: "0 * * * *"\n';
const NOTIFICATIONS = '{"webhook":null,"email":null}\n';

let dir: string;
let paths: SettingsPaths;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cairn-carried-'));
  paths = { config: join(dir, 'cairn.yaml'), notifications: join(dir, 'notifications.json'), checkConfig: parseConfig };
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the offer for the next head', () => {
  test('files that load are offered; absent ones are null; ones that do not load are undefined (the previous head keeps its)', async () => {
    const lines: string[] = [];
    expect(await readSettingsOffer(paths, (l) => lines.push(l))).toEqual({ config: null, notifications: null });
    await writeFile(paths.config, CONFIG);
    await writeFile(paths.notifications, NOTIFICATIONS);
    expect(await readSettingsOffer(paths, (l) => lines.push(l))).toEqual({ config: CONFIG, notifications: NOTIFICATIONS });
    await writeFile(paths.config, 'sources:\n  - name: docs\n    schedule: */10 * * * *\n');
    await writeFile(paths.notifications, '{"webhook":');
    expect(await readSettingsOffer(paths, (l) => lines.push(l))).toEqual({});
    expect(lines).toEqual([]);
  });
});

describe('recover writes the settings back', () => {
  test('in a fresh home: in place, mode 0600', async () => {
    const r = await writeRecoveredSettings({ config: CONFIG, notifications: NOTIFICATIONS }, paths);
    expect(r).toEqual({
      written: [
        { file: 'cairn.yaml', path: paths.config, beside: false },
        { file: 'notifications.json', path: paths.notifications, beside: false },
      ],
      warnings: [],
    });
    expect(await readFile(paths.config, 'utf8')).toBe(CONFIG);
    expect(await readFile(paths.notifications, 'utf8')).toBe(NOTIFICATIONS);
    for (const p of [paths.config, paths.notifications]) expect((await stat(p)).mode & 0o777).toBe(0o600);
    // no temp file left behind
    expect((await readdir(dir)).sort()).toEqual(['cairn.yaml', 'notifications.json']);
  });

  test('an existing cairn.yaml is kept, and the recovered one goes beside it, saying so', async () => {
    await writeFile(paths.config, '# mine\n');
    const r = await writeRecoveredSettings({ config: CONFIG }, paths);
    expect(r.written).toEqual([{ file: 'cairn.yaml', path: `${paths.config}.recovered`, beside: true }]);
    expect(r.warnings).toEqual([`${paths.config} already exists and is kept: the recovered cairn.yaml is in ${paths.config}.recovered`]);
    expect(await readFile(paths.config, 'utf8')).toBe('# mine\n');
    expect(await readFile(`${paths.config}.recovered`, 'utf8')).toBe(CONFIG);
  });

  test('a recovered cairn.yaml that does not load here goes beside, so the agent still starts', async () => {
    const future = `${CONFIG}some-later-key: true\n`;
    const r = await writeRecoveredSettings({ config: future }, paths);
    expect(r.written).toEqual([{ file: 'cairn.yaml', path: `${paths.config}.recovered`, beside: true }]);
    expect(r.warnings[0]).toMatch(
      /^the recovered cairn\.yaml does not load here \(cairn\.yaml:5: some-later-key: unknown key.*\): written to .*cairn\.yaml\.recovered; fix it and move it to /,
    );
    expect((await readdir(dir)).sort()).toEqual(['cairn.yaml.recovered']);
  });

  test('a head without settings writes nothing', async () => {
    expect(await writeRecoveredSettings({}, paths)).toEqual({ written: [], warnings: [] });
    expect(await readdir(dir)).toEqual([]);
  });
});
