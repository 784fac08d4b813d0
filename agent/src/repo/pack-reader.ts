// Where the repository reads packs from. Alone it reads its local pack directory; with friends, a
// reader that falls back to friends' copies (mesh/mesh-reader.ts implements this interface: the
// repository imports nothing of the mesh). The composition root (agent/src/compose-root.ts) hands
// it in when the repository is opened, as a function asked on each read: the mesh that serves it
// starts after the repository is open and stops before it closes.

export interface PackReader {
  /** `length` bytes from `offset`; a pack missing locally may come from friends first. */
  getRange(id: string, offset: number, length: number): Promise<Buffer>;
  /** Replaces a local copy whose bytes failed verification by a friend's; absent: no one to ask. */
  refetch?(id: string): Promise<void>;
}

export interface RepositoryOptions {
  /** The reader to use besides the local store, when there is one now (the mesh's, while it runs). */
  reader?: () => PackReader | undefined;
}
