// Length-prefixed frames on a libp2p stream: JSON messages and raw byte frames, with the limits of
// protocol/mesh.ts. A length prefix above MAX_FRAME_BYTES makes lpStream throw before allocating;
// the stream is then reset. Every read and write waits at most the inactivity timeout and ends
// with the exchange's deadline, when it has one (deadline.ts).
import type { Stream } from '@libp2p/interface';
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils';
import {
  isRefusal,
  MalformedMessageError,
  MAX_FRAME_BYTES,
  MAX_MESSAGE_BYTES,
  MESSAGE_STREAM_BUFFER_BYTES,
  PACK_STREAM_BUFFER_BYTES,
  STREAM_TIMEOUT_MS,
  WireError,
  type WireErrorCode,
} from '../../../protocol/mesh.js';
import { framePool } from '../store/frame-pool.js';
import { CairnError } from '../util/errors.js';
import { untrustedText } from '../util/untrusted-text.js';
import { bounded, type Deadline } from './deadline.js';

/** A friend refused a request with a wire error code. */
export class RefusedError extends CairnError {
  readonly wireCode: WireErrorCode;
  constructor(wireCode: WireErrorCode, message: string) {
    super(wireCode, message);
    this.name = 'RefusedError';
    this.wireCode = wireCode;
  }
}

const KNOWN_CODES: ReadonlySet<string> = new Set(Object.values(WireError));

/**
 * A refusal as it arrived from a friend, made safe to log and show: a code we do not know becomes
 * E_INTERNAL (the friend's string is kept, cleaned, in the message), the message loses control
 * characters and escapes and is cut to a line (the wire allows 256 KiB of anything).
 */
export function refusalFromFriend(code: string, message: unknown): RefusedError {
  const text = untrustedText(message);
  if (KNOWN_CODES.has(code)) return new RefusedError(code as WireErrorCode, text);
  return new RefusedError(WireError.internal, untrustedText(`(code ${untrustedText(code, 40)}) ${text}`));
}

/** Bytes of the longest length prefix a frame may have: the varint of MAX_FRAME_BYTES. */
export const MAX_LENGTH_PREFIX_BYTES = Math.ceil(Math.log2(MAX_FRAME_BYTES + 1) / 7);

/** Thrown to lpStream while a length prefix is incomplete (it reads one more byte): one object, no stack to capture per byte. */
const INCOMPLETE_PREFIX = new RangeError('incomplete length prefix');

/** A length prefix that can only announce more than MAX_FRAME_BYTES: the stream is reset, as for any oversize length (SPEC 13.2). */
export class FrameLengthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameLengthError';
  }
}

/**
 * Decodes a frame's length prefix for lpStream, refusing one longer than MAX_LENGTH_PREFIX_BYTES.
 * lpStream's own decoder keeps reading while the varint is incomplete and checks the prefix's
 * length only once it is complete: a peer sending 0xff bytes without end was read a byte at a
 * time, each one decoded again, thrown at and kept, with no limit (a tenth of a target's CPU in
 * the soak, and memory growing with every byte).
 */
export function decodeFrameLength(buf: { readonly byteLength: number; get(index: number): number }): number {
  let length = 0;
  for (let i = 0; i < buf.byteLength; i++) {
    if (i === MAX_LENGTH_PREFIX_BYTES)
      throw new FrameLengthError(`frame length prefix longer than ${MAX_LENGTH_PREFIX_BYTES} bytes (frames are at most ${MAX_FRAME_BYTES} bytes)`);
    const b = buf.get(i);
    length += (b & 0x7f) * 2 ** (7 * i);
    if (b < 0x80) return length;
  }
  throw INCOMPLETE_PREFIX;
}

/** Unacknowledged data frames in flight: 3 x 1 MiB stays under libp2p's 4 MiB read buffer. */
export const WINDOW_FRAMES = 3;
const ACK = Uint8Array.of(6);

export interface FramesOptions {
  /** Longest wait for one frame to arrive or be taken (ms; default STREAM_TIMEOUT_MS). */
  frameTimeoutMs?: number;
  /** The exchange's overall deadline (also settable later, once the size is known). */
  deadline?: Deadline;
  /**
   * This stream receives pack bytes (receiveWindowed): it may keep PACK_STREAM_BUFFER_BYTES
   * unread instead of MESSAGE_STREAM_BUFFER_BYTES. Past either, the stream is reset.
   */
  receivesPacks?: boolean;
}

export class Frames {
  readonly stream: Stream;
  readonly frameTimeoutMs: number;
  /** Every read and write fails with its reason once it ends. */
  deadline: Deadline | undefined;
  /** The deadline was set here (setDeadline), so it ends with this exchange; one passed in belongs to the caller. */
  private ownsDeadline = false;
  private readonly lp: LengthPrefixedStream<Stream>;
  /** Most bytes kept unread from the peer (protocol/mesh.ts); more resets the stream. */
  readonly maxUnreadBytes: number;

  constructor(stream: Stream, opts: FramesOptions = {}) {
    this.stream = stream;
    this.frameTimeoutMs = opts.frameTimeoutMs ?? STREAM_TIMEOUT_MS;
    this.deadline = opts.deadline;
    // libp2p keeps whatever arrives until it is read, up to 4 MiB a stream: a peer writing frames
    // nobody asked for (a hostile one writes dozens at once) held that much of our memory per stream
    this.maxUnreadBytes = opts.receivesPacks === true ? PACK_STREAM_BUFFER_BYTES : MESSAGE_STREAM_BUFFER_BYTES;
    this.lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES, lengthDecoder: decodeFrameLength, maxBufferSize: this.maxUnreadBytes });
  }

  private io<T>(what: string, op: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return bounded(op, { timeoutMs: this.frameTimeoutMs, what, deadline: this.deadline });
  }

  /** Sets the exchange's deadline, disposed when the exchange ends (serve, exchange). */
  setDeadline(d: Deadline): void {
    if (this.ownsDeadline) this.deadline?.dispose();
    this.deadline = d;
    this.ownsDeadline = true;
  }

  /** Stops the timer of a deadline set with setDeadline. */
  disposeDeadline(): void {
    if (this.ownsDeadline) this.deadline?.dispose();
  }

  async readBytes(): Promise<Uint8Array> {
    const list = await this.io('waiting for a frame from the peer', (signal) => this.lp.read({ signal }));
    return list.subarray();
  }

  async readJson(): Promise<unknown> {
    const bytes = await this.readBytes();
    if (bytes.length > MAX_MESSAGE_BYTES) throw new MalformedMessageError(`message of ${bytes.length} bytes exceeds ${MAX_MESSAGE_BYTES}`);
    try {
      return JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
    } catch {
      throw new MalformedMessageError('frame is not valid JSON');
    }
  }

  /** Reads a response; a refusal becomes a RefusedError. */
  async readReply<T>(): Promise<T> {
    const v = await this.readJson();
    if (isRefusal(v)) throw refusalFromFriend(v.code, v.message);
    if (typeof v !== 'object' || v === null || (v as { ok?: unknown }).ok !== true) throw new MalformedMessageError('reply is neither ok nor a refusal');
    return v as T;
  }

  async writeJson(v: unknown): Promise<void> {
    await this.writeBytes(Buffer.from(JSON.stringify(v)));
  }

  async writeBytes(b: Uint8Array): Promise<void> {
    await this.io('waiting for the peer to take a frame', (signal) => this.lp.write(b, { signal }));
  }

  /**
   * Sends `total` bytes in frames of at most `frameBytes`, each filled in place by `fill(offset,
   * target)`, with at most WINDOW_FRAMES unacknowledged: libp2p's byte streams buffer whatever
   * arrives and reset the stream past 4 MiB, so the receiver acknowledges each frame once it has
   * consumed it. The next frame is filled (read from disk) while the current one is being sent.
   * Frames take turns in WINDOW_FRAMES + 1 pooled buffers: frame i + 1 starts filling once frame
   * i is handed to the transport, which happens only when at most WINDOW_FRAMES - 1 frames are
   * unacknowledged, so frame i - WINDOW_FRAMES, the last one in the same buffer, has been
   * acknowledged, hence fully sent (and encrypted) by the transport.
   */
  async sendWindowed(total: number, frameBytes: number, fill: (offset: number, target: Uint8Array) => Promise<void>): Promise<void> {
    const frames = Math.ceil(total / frameBytes);
    const ring = Array.from({ length: Math.min(WINDOW_FRAMES + 1, frames) }, () => framePool.take(frameBytes));
    /** The newest fill started: the only one that can still be running. */
    let lastFill: Promise<void> = Promise.resolve();
    const filled = (i: number): { target: Uint8Array; done: Promise<void> } => {
      const off = i * frameBytes;
      const target = new Uint8Array(ring[i % ring.length] as ArrayBuffer, 0, Math.min(frameBytes, total - off));
      const done = fill(off, target);
      done.catch(() => undefined); // read ahead: a failure surfaces when this frame's turn comes
      lastFill = done;
      return { target, done };
    };
    let next = frames > 0 ? filled(0) : null;
    let unacked = 0;
    try {
      for (let i = 0; i < frames; i++) {
        const frame = next as { target: Uint8Array; done: Promise<void> };
        next = null;
        if (unacked === WINDOW_FRAMES) {
          await this.readAckFrame();
          unacked -= 1;
        }
        await frame.done;
        const sent = this.writeBytes(frame.target);
        if (i + 1 < frames) next = filled(i + 1);
        await sent;
        unacked += 1;
      }
      for (; unacked > 0; unacked--) await this.readAckFrame();
    } catch (err) {
      await lastFill.catch(() => undefined); // nothing keeps reading after we return
      throw err;
    }
    // only now: after a failure the transport may still hold a frame, and the buffer is dropped
    for (const buf of ring) framePool.give(buf);
  }

  /**
   * Receives `total` bytes sent with sendWindowed, handing each frame to `consume` before acking it.
   * A frame comes as the pieces the transport delivered (not copied into one buffer: a 1 MiB copy
   * per frame was a fifth of a receiving friend's CPU).
   */
  async receiveWindowed(total: number, consume: (parts: Uint8Array[], length: number) => Promise<void>): Promise<void> {
    if (this.maxUnreadBytes < PACK_STREAM_BUFFER_BYTES) throw new Error('receiveWindowed on a stream made for messages only (Frames option receivesPacks)');
    let got = 0;
    while (got < total) {
      const frame = await this.io('waiting for pack bytes from the peer', (signal) => this.lp.read({ signal }));
      if (frame.byteLength === 0 || got + frame.byteLength > total) throw new MalformedMessageError(`more bytes than the ${total} announced`);
      await consume([...frame], frame.byteLength);
      got += frame.byteLength;
      await this.writeBytes(ACK);
    }
  }

  async readAckFrame(): Promise<void> {
    const b = await this.readBytes();
    if (b.length !== 1 || b[0] !== ACK[0]) throw new MalformedMessageError('expected a frame acknowledgement');
  }

  async refuse(code: WireErrorCode, message: string): Promise<void> {
    await this.writeJson({ ok: false, code, message });
    await this.close();
  }

  /**
   * Closes our side once what we wrote has left, within the inactivity timeout: a peer that reads
   * nothing cannot hold a graceful close (the stream is reset instead).
   */
  async close(): Promise<void> {
    try {
      await bounded((signal) => this.stream.close({ signal }), { timeoutMs: this.frameTimeoutMs, what: 'closing the stream' });
    } catch (err) {
      this.stream.abort(asError(err));
    }
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * Runs one request on a stream we opened: the stream is closed after a success and reset after a
 * failure (a stalled peer gets no graceful close to hold); the deadline, if any, is disposed.
 */
export async function exchange<T>(stream: Stream, opts: FramesOptions, fn: (f: Frames) => Promise<T>): Promise<T> {
  const f = new Frames(stream, opts);
  try {
    const result = await fn(f);
    await f.close();
    return result;
  } catch (err) {
    stream.abort(asError(err));
    throw err;
  } finally {
    f.disposeDeadline();
  }
}

/** Runs a protocol handler: malformed input is refused with E_MALFORMED, other failures (a deadline) reset the stream. */
export async function serve(stream: Stream, fn: (f: Frames) => Promise<void>, opts: FramesOptions = {}): Promise<void> {
  const f = new Frames(stream, opts);
  try {
    await fn(f);
    await f.close();
  } catch (err) {
    if (err instanceof MalformedMessageError) {
      await f.refuse(WireError.malformed, err.message).catch(() => stream.abort(asError(err)));
      return;
    }
    if (err instanceof RefusedError) {
      await f.refuse(err.wireCode, err.message).catch(() => stream.abort(asError(err)));
      return;
    }
    stream.abort(asError(err));
  } finally {
    f.disposeDeadline();
  }
}
