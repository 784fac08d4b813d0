// The copies a friend keeps of an owner's packs: <friend home>/hosted/<owner PeerId>/<2 hex>/<64 hex>,
// listed, copied aside and put back (files only: the friend's LevelDB keeps believing it holds them).
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packChargeBytes } from '../../../protocol/mesh.js';
import { packFilesIn, type PackFile } from './damage-packs.js';

const run = promisify(execFile);

export function hostedDir(friendHome: string, ownerPeerId: string): string {
  return join(friendHome, 'hosted', ownerPeerId);
}

/** Pack files a friend holds for an owner, sorted by ID; [] when it holds none. */
export async function hostedPacks(friendHome: string, ownerPeerId: string): Promise<PackFile[]> {
  return packFilesIn(hostedDir(friendHome, ownerPeerId));
}

/** `cp -a` of a directory to a path that must not exist yet. */
export async function copyDir(src: string, dst: string): Promise<void> {
  await run('cp', ['-a', src, dst]);
}

/** Replaces `dst` with a `cp -a` copy of `src`. */
export async function replaceDir(src: string, dst: string): Promise<void> {
  await rm(dst, { recursive: true, force: true });
  await copyDir(src, dst);
}

/** A TCP port free on 127.0.0.1 right now (for an agent that must keep its address across restarts). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = srv.address();
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  if (addr === null || typeof addr !== 'object') throw new Error('no port');
  return addr.port;
}

/** What a friend charges an owner for the packs it holds (SPEC 13.4: each at least MIN_PACK_CHARGE_BYTES). */
export async function chargedBytes(friendHome: string, ownerPeerId: string): Promise<number> {
  return (await hostedPacks(friendHome, ownerPeerId)).reduce((n, p) => n + packChargeBytes(p.size), 0);
}
