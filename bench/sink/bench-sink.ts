// /cairn/bench-sink/1.0.0: a benchmark-only protocol that reads and discards bytes from a friend, so
// `npm run bench` can compare replication with a bare Noise+Yamux stream between the same two agent
// processes. Only the bench's own agent (bench/sink/agent.ts) registers it, with the benchStream API op.
//
// The sender opens the stream and writes one JSON frame { mode, bytes }; the sink answers
// { ok: true } and then receives:
// - mode "windowed": `bytes` in 1 MiB frames with Frames.sendWindowed's acknowledgements, exactly
//   the flow control pack-put and pack-get use;
// - mode "raw": `bytes` written with stream.send() and, when it returns false, onDrain(): no
//   framing, no acknowledgements, only Yamux's own window;
// - mode "stored": like "windowed", but the sender fills the frames by reading its own pack files
//   and the sink hashes and writes them on its hashing worker into files of PACK_TARGET_BYTES,
//   each fsynced and dropped from the page cache while the next arrives, then deleted: the disk
//   and hashing work replication cannot avoid, without its protocol (no stream, request or
//   LevelDB record per pack);
// and finally answers { ok: true, bytes: <count received> }.
import { mkdtemp, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Connection, PeerId, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { lpStream } from '@libp2p/utils';
import { MalformedMessageError, MAX_FRAME_BYTES, MAX_MESSAGE_BYTES, PACK_FRAME_BYTES, STREAM_TIMEOUT_MS, WireError } from '../../protocol/mesh.js';
import { PACK_TARGET_BYTES } from '../../agent/src/repo/packer.js';
import { HashingWriter } from '../../agent/src/store/hashing-writer.js';
import type { LocalPackStore } from '../../agent/src/store/local-pack-store.js';
import { UsageError } from '../../agent/src/util/errors.js';
import type { MeshContext } from '../../agent/src/mesh/context.js';
import { Frames, RefusedError, serve } from '../../agent/src/mesh/framing.js';

export const BENCH_SINK_PROTOCOL = '/cairn/bench-sink/1.0.0';
/** Largest transfer one request may announce. */
const MAX_BENCH_BYTES = 2 ** 40;

export const BENCH_STREAM_MODES = ['windowed', 'raw', 'stored'] as const;
export type BenchStreamMode = (typeof BENCH_STREAM_MODES)[number];

export interface BenchStreamArgs {
  peerId: string;
  bytes: number;
  mode?: BenchStreamMode;
}

export interface BenchStreamResult {
  mode: BenchStreamMode;
  bytes: number;
  /** From the first data byte handed to the stream until the sink confirmed the count. */
  ms: number;
}

function parseRequest(v: unknown): { mode: BenchStreamMode; bytes: number } {
  const r = v as { mode?: unknown; bytes?: unknown } | null;
  if (typeof r !== 'object' || r === null) throw new MalformedMessageError('bench-sink request is not an object');
  const mode = BENCH_STREAM_MODES.find((m) => m === r.mode);
  if (mode === undefined) throw new MalformedMessageError(`bench-sink mode must be one of ${BENCH_STREAM_MODES.join(', ')}`);
  if (typeof r.bytes !== 'number' || !Number.isSafeInteger(r.bytes) || r.bytes < 0 || r.bytes > MAX_BENCH_BYTES)
    throw new MalformedMessageError('bench-sink bytes out of range');
  return { mode, bytes: r.bytes };
}

async function readJson(lp: ReturnType<typeof lpStream<Stream>>): Promise<unknown> {
  const bytes = (await lp.read({ signal: AbortSignal.timeout(STREAM_TIMEOUT_MS) })).subarray();
  if (bytes.length > MAX_MESSAGE_BYTES) throw new MalformedMessageError(`message of ${bytes.length} bytes exceeds ${MAX_MESSAGE_BYTES}`);
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
  } catch {
    throw new MalformedMessageError('frame is not valid JSON');
  }
}

/** Counts `total` raw bytes arriving on `stream`, discarding them as they come (nothing is buffered). */
function discardRaw(stream: Stream, total: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let got = 0;
    const timer = setTimeout(() => finish(new Error(`bench-sink: no end after ${STREAM_TIMEOUT_MS} ms idle`)), STREAM_TIMEOUT_MS);
    const onMessage = (evt: { data: Uint8Array | { byteLength: number } }) => {
      got += evt.data.byteLength;
      timer.refresh();
      if (got >= total) finish();
    };
    const onClose = () => finish(got >= total ? undefined : new Error(`bench-sink: stream ended after ${got} of ${total} bytes`));
    const finish = (err?: Error) => {
      clearTimeout(timer);
      stream.removeEventListener('message', onMessage);
      stream.removeEventListener('close', onClose);
      stream.removeEventListener('remoteCloseWrite', onClose);
      if (err) reject(err);
      else if (got > total) reject(new MalformedMessageError(`more bytes than the ${total} announced`));
      else resolve(got);
    };
    if (total === 0) {
      finish();
      return;
    }
    stream.addEventListener('message', onMessage);
    stream.addEventListener('close', onClose);
    stream.addEventListener('remoteCloseWrite', onClose);
  });
}

export function benchSinkHandler(ctx: MeshContext) {
  return async (stream: Stream, connection: Connection) => {
    const remote = connection.remotePeer.toString();
    if (!(await ctx.friends.get(remote))) {
      await serve(stream, async () => {
        throw new RefusedError(WireError.notFriend, 'not a friend of this agent');
      });
      return;
    }
    // The request frame is read with a private length-prefixed reader that is then unwrapped,
    // so raw bytes that follow reach the stream's own message events, never a bounded buffer.
    let req: { mode: BenchStreamMode; bytes: number };
    const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES });
    try {
      req = parseRequest(await readJson(lp));
    } catch (err) {
      lp.unwrap();
      await serve(stream, async () => {
        throw err;
      });
      return;
    }
    const raw = lp.unwrap();
    if (req.mode === 'windowed' || req.mode === 'stored') {
      const home = dirname(ctx.hosted.dir);
      await serve(
        raw,
        async (f) => {
          await f.writeJson({ ok: true });
          const got = req.mode === 'windowed' ? await receiveDiscarding(f, req.bytes) : await receiveStoring(f, req.bytes, home);
          await f.writeJson({ ok: true, bytes: got });
        },
        { receivesPacks: true },
      );
      return;
    }
    // raw: no Frames (its reader would buffer the bytes) until every byte has been counted
    try {
      const counted = discardRaw(raw, req.bytes);
      raw.send(lengthPrefixed(Buffer.from(JSON.stringify({ ok: true }))));
      const got = await counted;
      await serve(raw, async (f) => f.writeJson({ ok: true, bytes: got }));
    } catch (err) {
      raw.abort(err instanceof Error ? err : new Error(String(err)));
    }
  };
}

async function receiveDiscarding(f: Frames, total: number): Promise<number> {
  let got = 0;
  await f.receiveWindowed(total, async (_parts, length) => {
    got += length;
  });
  return got;
}

/**
 * Hashes and writes what arrives into files of PACK_TARGET_BYTES in a directory of its own under
 * `home` (as a friend stores packs: on the hashing worker, each file fsynced and dropped from the
 * page cache, the next one arriving meanwhile), then deletes them.
 */
async function receiveStoring(f: Frames, total: number, home: string): Promise<number> {
  const dir = await mkdtemp(join(home, 'bench-sink-'));
  const finishing: Promise<string>[] = [];
  let file: HashingWriter | null = null;
  let inFile = 0;
  let got = 0;
  try {
    await f.receiveWindowed(total, async (parts, length) => {
      file ??= await HashingWriter.create(join(dir, String(finishing.length)));
      await file.write(parts, length);
      got += length;
      inFile += length;
      if (inFile >= PACK_TARGET_BYTES || got === total) {
        const done = file.finish({ dropCache: true });
        done.catch(() => undefined); // awaited below
        finishing.push(done);
        file = null;
        inFile = 0;
      }
    });
    await Promise.all(finishing);
  } finally {
    await (file as HashingWriter | null)?.abort(); // set inside the callback: TS cannot see it
    await Promise.allSettled(finishing);
    await rm(dir, { recursive: true, force: true });
  }
  return got;
}

/** Reads from the first `total` bytes of our own pack files laid one after another (the bytes replication sends). */
export async function packReader(store: LocalPackStore, total: number): Promise<(offset: number, target: Uint8Array) => Promise<void>> {
  type Span = { id: string; start: number; end: number };
  const spans: Span[] = [];
  let have = 0;
  for await (const p of store.list()) {
    if (have >= total) break;
    spans.push({ id: p.id, start: have, end: have + p.sizeBytes });
    have += p.sizeBytes;
  }
  if (have < total) throw new UsageError(`stored mode sends our own packs: ${total} bytes asked, ${have} held`);
  let i = 0; // frames come in order: the search resumes where the last one ended
  return async (offset, target) => {
    for (let done = 0; done < target.length;) {
      const at = offset + done;
      if (at < (spans[i] as Span).start) i = 0;
      while (at >= (spans[i] as Span).end) i += 1;
      const p = spans[i] as Span;
      const n = Math.min(target.length - done, p.end - at);
      await store.readInto(p.id, at - p.start, target.subarray(done, done + n));
      done += n;
    }
  };
}

/** One frame as lpStream writes it: unsigned varint length, then the bytes. */
function lengthPrefixed(bytes: Uint8Array): Uint8Array {
  const prefix: number[] = [];
  let n = bytes.length;
  while (n >= 0x80) {
    prefix.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  prefix.push(n);
  return Buffer.concat([Uint8Array.from(prefix), bytes]);
}

/**
 * Sends `bytes` to a friend's bench sink and times it; mode "stored" reads them from `ownPacks`
 * (so the time includes reading them).
 */
export async function benchStream(ctx: MeshContext, peer: PeerId, bytes: number, mode: BenchStreamMode, ownPacks: LocalPackStore): Promise<BenchStreamResult> {
  const readPacks = mode === 'stored' ? await packReader(ownPacks, bytes) : null;
  const frame = Buffer.alloc(Math.min(PACK_FRAME_BYTES, Math.max(1, bytes)));
  // incompressible content, though nothing on the path compresses
  for (let i = 0; i < frame.length; i += 4) frame.writeUInt32LE((Math.imul(i + 1, 2654435761) ^ (i >>> 7)) >>> 0, i);
  const stream = await ctx.node.dialProtocol(peer, BENCH_SINK_PROTOCOL, { signal: AbortSignal.timeout(15_000) });
  const f = new Frames(stream);
  try {
    await f.writeJson({ mode, bytes });
    await f.readReply<{ ok: true }>();
    const started = process.hrtime.bigint();
    if (readPacks) {
      await f.sendWindowed(bytes, PACK_FRAME_BYTES, readPacks);
    } else if (mode === 'windowed') {
      await f.sendWindowed(bytes, PACK_FRAME_BYTES, async (_off, target) => target.set(frame.subarray(0, target.length)));
    } else {
      for (let off = 0; off < bytes; off += PACK_FRAME_BYTES) {
        const len = Math.min(PACK_FRAME_BYTES, bytes - off);
        if (!stream.send(len === frame.length ? frame : frame.subarray(0, len))) await stream.onDrain({ signal: AbortSignal.timeout(STREAM_TIMEOUT_MS) });
      }
    }
    const done = await f.readReply<{ ok: true; bytes: number }>();
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (done.bytes !== bytes) throw new UsageError(`bench sink counted ${done.bytes} of ${bytes} bytes`);
    return { mode, bytes: done.bytes, ms };
  } finally {
    await stream.close().catch(() => undefined);
  }
}

/** benchStream to a friend named by its PeerId string (the benchStream API op, ops/bench-stream.ts). */
export function benchStreamTo(ctx: MeshContext, peerId: string, bytes: number, mode: BenchStreamMode, ownPacks: LocalPackStore): Promise<BenchStreamResult> {
  return benchStream(ctx, peerIdFromString(peerId), bytes, mode, ownPacks);
}
