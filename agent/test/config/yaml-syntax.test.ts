// A YAML syntax error in cairn.yaml is reported once, at its own line and column, with a hint for
// the common mistakes (issue 21 item 5). Before, every syntax error said line 1, once per token.
import { describe, expect, test } from 'vitest';
import { EXAMPLE_CONFIG } from '../../src/config/example.js';
import { ConfigError, parseConfig } from '../../src/config/load.js';

function problems(text: string): string[] {
  try {
    parseConfig(text, '/etc/cairn/cairn.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).lines;
  }
  throw new Error('expected the config to be refused');
}

/** The example config with `line` put in after its last line: a real file, the error far from line 1. */
const late = (line: string) => `${EXAMPLE_CONFIG.trimEnd()}\n${line}`;
const lastLine = (text: string) => text.trimEnd().split('\n').length;

describe('YAML syntax errors name their line and column, once, with a hint', () => {
  test('an unquoted cron expression (a value starting with *, an alias in YAML)', () => {
    const text = `${'\n'.repeat(60)}sources:\n  - name: db\n    paths: [/srv]\n    schedule: */10 * * * *\n`;
    expect(problems(text)).toEqual([
      'cairn.yaml:64:20: not valid YAML: Unexpected alias at node end; a value starting with * must be quoted, e.g. schedule: "*/10 * * * *"',
    ]);
  });

  test('a tab in the indentation', () => {
    expect(problems('sources:\n\t- name: a\n')).toEqual([
      'cairn.yaml:2:1: not valid YAML: Tabs are not allowed as indentation; indent with spaces: YAML does not allow tabs there',
    ]);
    const [line] = problems('sources:\n  - name: a\n  \tpaths: [/x]\n');
    expect(line).toMatch(/^cairn\.yaml:3:1: not valid YAML: .*; indent with spaces: YAML does not allow tabs there$/);
  });

  test('a bad indent', () => {
    const text = late('friends:\n  replicas: 2\n bandwidth-limit: 1M\n');
    const [line, ...rest] = problems(text);
    expect(rest).toEqual([]);
    expect(line).toMatch(
      new RegExp(`^cairn\\.yaml:${lastLine(text)}:1: not valid YAML: All mapping items must start at the same column; check the indentation of this line`),
    );
    const [over] = problems('sources:\n  - name: a\n     paths: [/srv]\n');
    expect(over).toMatch(/^cairn\.yaml:2:11: not valid YAML: .*; check the indentation of this line or the next/);
  });

  test('a key without its colon', () => {
    expect(problems('sources:\n  - name: a\n    paths [/srv]\n')).toEqual([
      'cairn.yaml:3:5: not valid YAML: Implicit map keys need to be followed by map values; a key needs a colon and a space after it: key: value',
    ]);
  });

  test('an unclosed flow list; any other syntax error still names line and column', () => {
    expect(problems('a: [1, 2\n')[0]).toMatch(/^cairn\.yaml:2:1: not valid YAML: .*; a \[list\] or \{mapping\} written on one line is not closed/);
    // the parser finds a quote left open only at the end of the file: the hint says to look above
    expect(problems('replicas: 2\nname: "unterminated\n')).toEqual([
      'cairn.yaml:3:1: not valid YAML: Missing closing "quote; a quoted value opened on an earlier line is not closed',
    ]);
    const [line, ...rest] = problems('a: b: c\n');
    expect(rest).toEqual([]);
    expect(line).toMatch(/^cairn\.yaml:1:\d+: not valid YAML: /);
  });
});
