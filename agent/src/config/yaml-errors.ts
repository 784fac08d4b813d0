// A YAML syntax error in cairn.yaml as one line: where it is (line and column of the first error:
// one mistake often makes the parser report several, and the first is the one to fix) and, for the
// mistakes people make most, what to do about it.
import type { LineCounter, YAMLError } from 'yaml';

const INDENT_CODES = new Set(['BAD_INDENT', 'BLOCK_AS_IMPLICIT_KEY', 'MULTILINE_IMPLICIT_KEY']);

/** A hint for the error at `lineText`, or '' when there is none to give. */
function hint(err: YAMLError, lineText: string): string {
  const indent = /^[ \t]*/.exec(lineText)?.[0] ?? '';
  if (err.code === 'TAB_AS_INDENT' || indent.includes('\t')) return 'indent with spaces: YAML does not allow tabs there';
  // `schedule: */10 * * * *`: a plain value starting with * is an alias in YAML
  if (/:\s+\*/.test(lineText) || /^\s*-\s+\*/.test(lineText)) return 'a value starting with * must be quoted, e.g. schedule: "*/10 * * * *"';
  if (/^Missing closing/.test(err.message)) return 'a quoted value opened on an earlier line is not closed';
  if (/end with a [\]}]/.test(err.message)) return 'a [list] or {mapping} written on one line is not closed (or the lines after it are not indented more)';
  if (INDENT_CODES.has(err.code)) {
    const where = err.code === 'BAD_INDENT' ? 'this line' : 'this line or the next';
    return `check the indentation of ${where}: keys of one mapping start in the same column (spaces only), and a nested value is indented more than its key`;
  }
  if (err.code === 'MISSING_CHAR' && /map values/.test(err.message)) return 'a key needs a colon and a space after it: key: value';
  return '';
}

/** `FILE:LINE:COL: not valid YAML: MESSAGE[; HINT]` for the first of `errors` (which the parser gave for `text`). */
export function yamlErrorLine(name: string, text: string, errors: readonly YAMLError[], lines: LineCounter): string {
  const err = errors[0] as YAMLError;
  const { line, col } = lines.linePos(err.pos[0]);
  const all = text.split('\n');
  const h = hint(err, all[line - 1] ?? '');
  return `${name}:${line}:${col}: not valid YAML: ${err.message.split('\n')[0]}${h ? `; ${h}` : ''}`;
}
