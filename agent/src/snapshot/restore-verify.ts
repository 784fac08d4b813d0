// restore --verify (restic's): after a restore, every restored file is read back from the target
// and each stretch compared with the snapshot's content IDs (keyed hashes of the plaintext chunks).
// A file that differs, or is missing or of another size, is named.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import type { Repository } from '../repo/repository.js';
import { displayName } from '../util/byte-names.js';
import { errorMessage } from '../util/errors.js';
import { walkTree, type WalkExclude } from './tree-walk.js';

export interface VerifyOutcome {
  /** Files read back and found as the snapshot has them. */
  verified: number;
  /** One line per file that is not: its path in the target and what is wrong. */
  mismatches: string[];
}

export async function verifyRestored(repo: Repository, treeId: string, includes: string[], target: string, exclude?: WalkExclude): Promise<VerifyOutcome> {
  const out: VerifyOutcome = { verified: 0, mismatches: [] };
  for await (const { rel, node } of walkTree(repo, treeId, includes, '', exclude)) {
    if (node.type !== 'file') continue;
    const path = join(target, rel);
    const problem = checkFile(repo, path, node.size, node.content ?? []);
    if (problem === undefined) out.verified += 1;
    else out.mismatches.push(`${displayName(path)}: verify: ${problem}`);
  }
  return out;
}

/** Why the file at `path` is not `content` (size bytes), or undefined when it is. */
function checkFile(repo: Repository, path: string, size: number, content: string[]): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    return `cannot be read back: ${errorMessage(err)}`;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return 'is not a regular file';
    if (st.size !== size) return `has ${st.size} bytes, the snapshot ${size}`;
    let pos = 0;
    for (const id of content) {
      const entry = repo.index.get(id);
      if (!entry) return `chunk ${id} is not in the index`;
      const buf = Buffer.allocUnsafe(entry.rawLength);
      let got = 0;
      for (let n = -1; got < buf.length && n !== 0; got += n) n = readSync(fd, buf, got, buf.length - got, pos + got);
      if (got !== buf.length || repo.blobIdOf(buf) !== id) return `content differs from the snapshot in bytes ${pos} to ${pos + entry.rawLength}`;
      pos += entry.rawLength;
    }
    return undefined;
  } finally {
    closeSync(fd);
  }
}
