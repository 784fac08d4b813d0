// Reading a snapshot blob's JSON (SPEC 7): the version must be one this agent knows, the fields it
// needs must be there; unknown fields are kept as they are (SPEC 7, "Unknown fields and versions").
import { CorruptionError } from '../util/errors.js';
import { SNAPSHOT_VERSION, type Snapshot } from '../../../protocol/snapshot.js';

const HEX_ID = /^[0-9a-f]{64}$/;

/** The snapshot in `json` (the plaintext of snapshot blob `id`), checked; a CorruptionError naming what is wrong otherwise. */
export function parseSnapshotBlob(id: string, json: string): Snapshot {
  let s: Partial<Snapshot>;
  try {
    s = JSON.parse(json) as Partial<Snapshot>;
  } catch {
    throw new CorruptionError(`snapshot ${id} is not valid JSON`);
  }
  if (typeof s !== 'object' || s === null) throw new CorruptionError(`snapshot ${id} is not a JSON object`);
  if (s.version !== SNAPSHOT_VERSION)
    throw new CorruptionError(
      `snapshot ${id} has version ${JSON.stringify(s.version)}; this agent reads version ${SNAPSHOT_VERSION} (a newer Cairn wrote it?)`,
    );
  if (typeof s.tree !== 'string' || !HEX_ID.test(s.tree)) throw new CorruptionError(`snapshot ${id} has no valid root tree ID`);
  if (typeof s.time !== 'string' || !Array.isArray(s.paths) || !Array.isArray(s.tags))
    throw new CorruptionError(`snapshot ${id} lacks its time, paths or tags`);
  if (s.parent !== undefined && (typeof s.parent !== 'string' || !HEX_ID.test(s.parent)))
    throw new CorruptionError(`snapshot ${id} has a parent that is not a snapshot ID`);
  return s as Snapshot;
}
