// Worker thread body for HashingWriter: hashes (SHA-256) and writes the frames of files being
// received, so the main thread keeps decrypting the transport while a pack's bytes are checked
// and stored. The file descriptors belong to the main thread; this thread only writes at the
// positions it is given. Messages are handled in order, so a 'digest' answers after every
// earlier 'write' of its file.
import { createHash, type Hash } from 'node:crypto';
import { writeSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';

export type HashingJob = { op: 'write'; id: number; fd: number; position: number; buf: ArrayBuffer; length: number } | { op: 'digest'; id: number };

export type HashingReply =
  { op: 'written'; id: number; buf: ArrayBuffer; error?: { message: string; code?: string } } | { op: 'digest'; id: number; hex: string | null };

/** Writes all of `bytes` at `position` (a file may take fewer bytes than asked). */
export function writeFully(fd: number, bytes: Uint8Array, position: number): void {
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off, position + off);
}

const hashes = new Map<number, { hash: Hash; failed: boolean }>();

parentPort?.on('message', (job: HashingJob) => {
  if (job.op === 'digest') {
    const s = hashes.get(job.id);
    hashes.delete(job.id);
    const reply: HashingReply = { op: 'digest', id: job.id, hex: s && !s.failed ? s.hash.digest('hex') : null };
    parentPort?.postMessage(reply);
    return;
  }
  let s = hashes.get(job.id);
  if (!s) hashes.set(job.id, (s = { hash: createHash('sha256'), failed: false }));
  const bytes = new Uint8Array(job.buf, 0, job.length);
  let reply: HashingReply = { op: 'written', id: job.id, buf: job.buf };
  if (!s.failed) {
    try {
      s.hash.update(bytes);
      writeFully(job.fd, bytes, job.position);
    } catch (err) {
      s.failed = true;
      const e = err as NodeJS.ErrnoException;
      reply = { ...reply, error: { message: e.message, ...(e.code ? { code: e.code } : {}) } };
    }
  }
  // the buffer goes back to the main thread's pool
  parentPort?.postMessage(reply, [job.buf]);
});
