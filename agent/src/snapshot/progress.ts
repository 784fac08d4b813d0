// What a backup reports while it runs: shared by the Archiver (directories) and the VolumeTreeBuilder
// (volumes), and read by the CLI's progress line through ops.

export interface ArchiveProgress {
  filesDone: number;
  bytesDone: number;
  filesRead: number;
  filesReused: number;
  dirs: number;
  addedBytes: number;
  currentPath: string;
}
