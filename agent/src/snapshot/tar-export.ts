// Exports a snapshot as a POSIX pax tar stream (tar-stream). Every entry carries a pax header that
// we build ourselves, because values may be binary (xattrs) and times need nanoseconds:
// path, linkpath, mtime/atime (sec.nsec), uid, gid, size, SCHILY.xattr.*. Hardlinks after the first
// name become tar hardlink entries. Paths are relative (the snapshot's absolute paths minus "/").
// Names and link targets go into the pax records as their exact bytes (not valid UTF-8 for some).
import type { Writable } from 'node:stream';
import { pack as tarPack, type Header, type Pack } from 'tar-stream';
import { BlobType } from '../repo/blob.js';
import type { Repository } from '../repo/repository.js';
import { toBytes } from '../util/byte-names.js';
import { CairnError } from '../util/errors.js';
import { walkTree } from './tree-walk.js';
import type { TreeNode } from '../../../protocol/snapshot.js';

type Headers = Partial<Header> & Pick<Header, 'name'>;
/** The parts of tar-stream's entry stream we use (its typings follow streamx). */
interface EntrySink {
  write(data: Buffer): boolean;
  once(event: 'drain', fn: () => void): void;
  on(event: 'error', fn: (err: Error) => void): void;
  end(): void;
  destroy(err: Error): void;
}

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

function nsTime(ns: string): string {
  const n = BigInt(ns);
  const neg = n < 0n;
  const abs = neg ? -n : n;
  return `${neg ? '-' : ''}${abs / 1_000_000_000n}.${(abs % 1_000_000_000n).toString().padStart(9, '0')}`;
}

/** A ustar-safe stand-in name (ASCII, short); the pax `path` record holds the real one. */
function safeName(path: string): string {
  return path.replace(/[^\x20-\x7e]/g, '_').slice(-99) || 'x';
}

function paxFor(path: string, node: TreeNode, linkpath?: string): Buffer {
  const rec: Buffer[] = [
    paxRecord('path', toBytes(path)),
    paxRecord('mtime', Buffer.from(nsTime(node.mtimeNs))),
    paxRecord('atime', Buffer.from(nsTime(node.atimeNs ?? node.mtimeNs))),
    paxRecord('uid', Buffer.from(String(node.uid))),
    paxRecord('gid', Buffer.from(String(node.gid))),
  ];
  if (linkpath !== undefined) rec.push(paxRecord('linkpath', toBytes(linkpath)));
  if (node.type === 'file' && linkpath === undefined) rec.push(paxRecord('size', Buffer.from(String(node.size))));
  for (const [name, value] of Object.entries(node.xattrs ?? {})) rec.push(paxRecord(`SCHILY.xattr.${name}`, Buffer.from(value, 'base64')));
  return Buffer.concat(rec);
}

const BLOCK = 512;
/** Largest uid/gid a 7-digit octal ustar field holds. */
const USTAR_MAX_ID = 0o7777777;
/** tar-stream writes the ustar mtime through a 32-bit integer: later times would wrap negative. */
const USTAR_MAX_SECONDS = 2 ** 31 - 1;

/**
 * A pax extended header ('x') written straight into the pack stream between entries: tar-stream
 * refuses bodies on non-file entries and builds pax records as UTF-8 text, which would mangle
 * binary xattr values, so this one block we encode ourselves (POSIX ustar header layout).
 */
function pushPax(pack: Pack, body: Buffer): void {
  const h = Buffer.alloc(BLOCK);
  const oct = (n: number, width: number, at: number) => h.write(n.toString(8).padStart(width - 1, '0') + '\0', at, 'ascii');
  h.write('PaxHeader', 0, 'ascii');
  oct(0o644, 8, 100);
  oct(0, 8, 108);
  oct(0, 8, 116);
  oct(body.length, 12, 124);
  oct(0, 12, 136);
  h.write('        ', 148, 'ascii');
  h.write('x', 156, 'ascii');
  h.write('ustar\0', 257, 'binary');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  const pad = (BLOCK - (body.length % BLOCK)) % BLOCK;
  pack.push(Buffer.concat([h, body, Buffer.alloc(pad)]));
}

function entry(pack: Pack, header: Headers, body?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error | null) => (err ? reject(err) : resolve());
    if (body) pack.entry(header, body, done);
    else pack.entry(header, done);
  });
}

export async function exportTar(repo: Repository, rootTree: string, includes: string[], out: Writable): Promise<void> {
  const pack = tarPack();
  let failure: Error | undefined;
  const piped = new Promise<void>((resolve, reject) => {
    const fail = (err: Error) => {
      failure ??= (err as NodeJS.ErrnoException).code === 'EPIPE' ? new CairnError('E_OUTPUT_CLOSED', 'the reader of the tar stream closed it early') : err;
      reject(failure);
    };
    pack.on('error', fail);
    out.on('error', fail);
    pack.pipe(out).on('finish', resolve);
  });
  piped.catch(() => undefined); // observed below and through `failure`
  const firstName = new Map<string, string>();
  for await (const { rel, node } of walkTree(repo, rootTree, includes)) {
    if (failure) throw failure;
    const typeMap = { file: 'file', dir: 'directory', symlink: 'symlink', fifo: 'fifo', chardev: 'character-device', blockdev: 'block-device' } as const;
    if (node.type === 'socket') continue;
    const path = node.type === 'dir' ? `${rel}/` : rel;
    const linkKey = node.type === 'file' && node.nlink > 1 ? `${node.dev}:${node.inode}` : undefined;
    const hardTarget = linkKey ? firstName.get(linkKey) : undefined;
    if (linkKey && !hardTarget) firstName.set(linkKey, rel);
    const linkpath = hardTarget ?? (node.type === 'symlink' ? node.target : undefined);
    const pax = paxFor(path, node, linkpath);
    // The ustar fields get values they can hold (the pax records carry the exact ones): GNU tar
    // reads a negative time or an oversized id written there as an obsolete base-64 number.
    const ustarId = (n: number) => (n <= USTAR_MAX_ID ? n : 0);
    const ustarMs = Math.min(USTAR_MAX_SECONDS * 1000, Math.max(0, Number(BigInt(node.mtimeNs) / 1_000_000n)));
    // tar-stream replaces a falsy mode with 0644/0755; the string '0' is truthy and encodes as 0.
    const mode = node.mode === 0 ? ('0' as unknown as number) : node.mode;
    const common = { mode, uid: ustarId(node.uid), gid: ustarId(node.gid), mtime: new Date(ustarMs) };
    pushPax(pack, pax);
    const header: Headers = { ...common, name: safeName(path), type: hardTarget ? 'link' : typeMap[node.type], size: 0 };
    if (linkpath !== undefined) header.linkname = safeName(linkpath);
    if (node.rdev !== undefined) {
      header.devmajor = (node.rdev >> 8) & 0xfff;
      header.devminor = (node.rdev & 0xff) | ((node.rdev >> 12) & 0xfff00);
    }
    if (node.type !== 'file' || hardTarget) {
      await entry(pack, header);
      continue;
    }
    header.size = node.size;
    await new Promise<void>((resolve, reject) => {
      const stream = pack.entry(header, (err) => (err ? reject(err) : resolve())) as unknown as EntrySink;
      // an output that fails destroys the pack and this entry with its error: the callback above
      // reports it; unheard here it would be an uncaught 'error' event
      stream.on('error', () => undefined);
      void (async () => {
        try {
          for (const id of node.content ?? []) {
            const data = await repo.loadBlob(id, BlobType.data);
            if (!stream.write(data)) await new Promise<void>((r) => stream.once('drain', r));
          }
          stream.end();
        } catch (err) {
          stream.destroy(err as Error);
          reject(err);
        }
      })();
    });
  }
  pack.finalize();
  await piped;
}
