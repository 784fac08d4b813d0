// Edits the sources in cairn.yaml for the console: adds, replaces or removes one source and keeps
// every other line of the file, comments included (the `yaml` document model). The edited text is
// parsed with the same checks as a hand edit before it replaces the file (atomically), so an
// invalid source never reaches the disk: the caller gets the ConfigError's lines instead.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { isMap, isSeq, parseDocument, YAMLSeq } from 'yaml';
import type { SourceFileForm } from '../../../protocol/console-api.js';
import { writeFileAtomic } from '../util/fsx.js';
import { ConfigError, parseConfig } from './load.js';

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new ConfigError([`${file}: cannot read the config file: ${(err as Error).message}`]);
  }
}

/** cairn.yaml's text with `source` put in place of the source of that name, or appended. */
export function withSource(text: string, file: string, source: SourceFileForm): string {
  return edit(text, file, (seq) => {
    const at = indexOf(seq, source.name);
    // only the keys that say something: empty lists and an empty retention are left out
    const clean = Object.fromEntries(
      Object.entries(source).filter(
        ([, v]) =>
          v !== undefined && v !== '' && !(Array.isArray(v) && v.length === 0) && !(typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0),
      ),
    );
    const node = seq.doc.createNode(clean);
    if (at === -1) seq.seq.add(node);
    else seq.seq.set(at, node);
  });
}

/** cairn.yaml's text without the source named `name`; ConfigError when there is none. */
export function withoutSource(text: string, file: string, name: string): string {
  return edit(text, file, (seq) => {
    const at = indexOf(seq, name);
    if (at === -1) throw new ConfigError([`${basename(file)}: there is no source named "${name}"`]);
    seq.seq.delete(at);
  });
}

interface SourcesSeq {
  doc: ReturnType<typeof parseDocument>;
  seq: YAMLSeq;
}

function indexOf({ seq }: SourcesSeq, name: string): number {
  return seq.items.findIndex((item) => isMap(item) && item.get('name') === name);
}

function edit(text: string, file: string, change: (s: SourcesSeq) => void): string {
  parseConfig(text, file); // the file as it is must be valid: never build on a broken one
  const doc = parseDocument(text);
  let seq = doc.get('sources', true);
  if (!isSeq(seq)) {
    seq = new YAMLSeq();
    doc.set('sources', seq);
  }
  change({ doc, seq: seq as YAMLSeq });
  const next = doc.toString();
  parseConfig(next, file);
  return next;
}

/** Applies `change` (which checks its result) to the file on disk and writes it atomically; ConfigWatcher.edit reloads after it. */
export async function editConfigFile(file: string, change: (text: string) => string): Promise<void> {
  await writeFileAtomic(file, Buffer.from(change(await readText(file))), 0o600);
}
