// What the mesh's ledgers share about writing to LevelDB.

/** Writes that must survive a crash of the machine, not only of the process: LevelDB fsyncs its log. */
export const DURABLE = { sync: true } as object;
