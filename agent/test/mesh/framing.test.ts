// Frames.sendWindowed / receiveWindowed between two real libp2p nodes (TCP + Noise + Yamux on
// loopback). The sender fills frames in place into a few reused buffers and reads the next frame
// ahead while the current one is in flight; these byte-exact round trips (slow receiver, slow and
// uneven reads, a read failing midway) check that no frame is refilled before it left and that a
// failed read neither goes unhandled nor spoils the next transfer. (A ring one or two buffers
// smaller still passed them: on loopback the transport has sent a frame by the time its buffer
// comes round again. sendWindowed's ring size rests on the acknowledgements instead, which hold
// whatever the transport does.)
import { createHash } from 'node:crypto';
import type { Libp2p } from '@libp2p/interface';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_MESSAGE_BYTES, MESSAGE_STREAM_BUFFER_BYTES } from '../../../protocol/mesh.js';
import { Frames, MAX_LENGTH_PREFIX_BYTES, serve } from '../../src/mesh/framing.js';
import { RawWire, startWireNode } from '../helpers/mesh-wire.js';

const PROTOCOL = '/cairn-test/windowed/1.0.0';
const ECHO = '/cairn-test/echo/1.0.0';
const HOLD = '/cairn-test/hold/1.0.0';
const HOLD_PACKS = '/cairn-test/hold-packs/1.0.0';
const FRAME = 1024 * 1024;

/** Deterministic bytes for any offset, different in every frame and every byte position. */
function expectedAt(offset: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) {
    const x = offset + i;
    out[i] = (x ^ (x >>> 8) ^ (x >>> 16) ^ (x >>> 24)) & 0xff;
  }
  return out;
}

function digestOf(total: number): string {
  const h = createHash('sha256');
  for (let off = 0; off < total; off += FRAME) h.update(expectedAt(off, Math.min(FRAME, total - off)));
  return h.digest('hex');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let alice: Libp2p;
let bob: Libp2p;
/** How long bob's consumer sits on each frame before acknowledging it (ms). */
let consumeDelayMs = 0;

beforeAll(async () => {
  alice = (await startWireNode()).node;
  bob = (await startWireNode()).node;
  // bob hashes what arrives and answers with the digest and the byte count
  await bob.handle(PROTOCOL, (stream) =>
    serve(
      stream,
      async (f) => {
        const { total } = (await f.readJson()) as { total: number };
        const h = createHash('sha256');
        let got = 0;
        await f.receiveWindowed(total, async (parts, length) => {
          for (const p of parts) h.update(p);
          got += length;
          if (consumeDelayMs > 0) await sleep(consumeDelayMs);
        });
        await f.writeJson({ ok: true, got, sha256: h.digest('hex') });
      },
      { receivesPacks: true },
    ),
  );
  // bob reads one JSON message and sends it back
  await bob.handle(ECHO, (stream) => serve(stream, async (f) => f.writeJson({ ok: true, got: await f.readJson() })));
});

afterAll(async () => {
  await Promise.all([alice?.stop(), bob?.stop()]);
});

async function send(total: number, fill: (offset: number, target: Uint8Array) => Promise<void>): Promise<{ got: number; sha256: string }> {
  const stream = await alice.dialProtocol(bob.getMultiaddrs()[0] as Parameters<Libp2p['dialProtocol']>[0], PROTOCOL);
  const f = new Frames(stream);
  try {
    await f.writeJson({ total });
    await f.sendWindowed(total, FRAME, fill);
    return await f.readReply<{ got: number; sha256: string }>();
  } finally {
    await stream.close().catch(() => undefined);
  }
}

const instantFill = async (offset: number, target: Uint8Array) => target.set(expectedAt(offset, target.length));

describe('Frames.sendWindowed over Noise + Yamux', () => {
  it.each([0, 1, FRAME - 1, FRAME, FRAME + 1, 10 * FRAME + 12_345])('delivers %i bytes exactly', async (total) => {
    consumeDelayMs = 0;
    const r = await send(total, instantFill);
    expect(r).toEqual({ ok: true, got: total, sha256: digestOf(total) });
  });

  it('delivers every byte when the receiver is slow (frames wait in the transport while the next ones are filled)', async () => {
    consumeDelayMs = 15;
    const total = 12 * FRAME + 777;
    const r = await send(total, instantFill);
    expect(r).toEqual({ ok: true, got: total, sha256: digestOf(total) });
  });

  it('delivers every byte when filling is slow and uneven (reads ahead overlap sending)', async () => {
    consumeDelayMs = 0;
    const total = 9 * FRAME + 5;
    const r = await send(total, async (offset, target) => {
      await sleep((offset / FRAME) % 3 === 0 ? 20 : 1);
      target.set(expectedAt(offset, target.length));
    });
    expect(r).toEqual({ ok: true, got: total, sha256: digestOf(total) });
  });

  it('rejects with the fill error, and the next transfer is still byte-exact', async () => {
    consumeDelayMs = 0;
    const failing = send(6 * FRAME, async (offset, target) => {
      if (offset === 4 * FRAME) throw new Error('disk read failed at frame 4');
      target.set(expectedAt(offset, target.length));
    });
    await expect(failing).rejects.toThrow('disk read failed at frame 4');
    const total = 7 * FRAME + 3;
    const r = await send(total, instantFill);
    expect(r).toEqual({ ok: true, got: total, sha256: digestOf(total) });
  });
});

describe('length prefixes', () => {
  const echo = async (bytes: Buffer): Promise<unknown> => {
    const w = new RawWire(await alice.dialProtocol(bob.getMultiaddrs()[0] as Parameters<Libp2p['dialProtocol']>[0], ECHO));
    await w.raw(bytes);
    void w.stream.close().catch(() => undefined); // our side is done: bob sees the end of the stream
    return w.readJson();
  };

  it(`resets a stream whose length prefix runs past ${MAX_LENGTH_PREFIX_BYTES} bytes at once, not reading on a byte at a time`, async () => {
    // 0xff bytes never end a varint: lpStream's own decoder read them one byte at a time, waiting
    // for the end (64 KiB cost about 1 s of CPU) and gave no answer while the stream stayed open
    const w = new RawWire(await alice.dialProtocol(bob.getMultiaddrs()[0] as Parameters<Libp2p['dialProtocol']>[0], ECHO));
    await w.raw(Buffer.alloc(64 * 1024, 0xff)).catch(() => undefined); // the reset may come while we still write
    const r = await w.ending(AbortSignal.timeout(10_000));
    expect(r.ended, r.detail).toBe('reset');
  });

  it('still reads frames whose prefix takes 1, 2 and 3 bytes', async () => {
    for (const size of [20, 5000, 300_000]) {
      const body = Buffer.from(JSON.stringify({ pad: 'x'.repeat(size - 10) }));
      const prefix: number[] = [];
      for (let v = body.length; ; v = Math.floor(v / 128)) {
        if (v < 128) {
          prefix.push(v);
          break;
        }
        prefix.push((v % 128) | 0x80);
      }
      if (body.length > MAX_MESSAGE_BYTES) {
        // over MAX_MESSAGE_BYTES: more than a message stream keeps unread, so never buffered whole
        const w = new RawWire(await alice.dialProtocol(bob.getMultiaddrs()[0] as Parameters<Libp2p['dialProtocol']>[0], ECHO));
        await w.raw(Buffer.concat([Buffer.from(prefix), body])).catch(() => undefined);
        const r = await w.ending(AbortSignal.timeout(10_000));
        expect(r.ended, r.detail).toBe('reset');
        continue;
      }
      const reply = (await echo(Buffer.concat([Buffer.from(prefix), body]))) as { ok: boolean; code?: string; got?: { pad: string } };
      expect(reply.got?.pad.length).toBe(size - 10);
    }
  });
});

describe('bytes kept unread on a stream', () => {
  /** bob's side of HOLD: reads one message, then reads nothing more until the stream ends; resolves how it ended. */
  let held: Promise<string> = Promise.resolve('');
  beforeAll(async () => {
    for (const [protocol, receivesPacks] of [
      [HOLD, false],
      [HOLD_PACKS, true],
    ] as const) {
      await bob.handle(protocol, (stream) => {
        held = new Promise((resolve) => {
          stream.addEventListener('close', (e) => resolve(e.error ? `reset: ${e.error.message}` : 'closed'), { once: true });
        });
        const f = new Frames(stream, { receivesPacks });
        void f.readJson().catch(() => undefined); // the request; what follows is never asked for
      });
    }
  });

  /** Writes a request and then `frames` frames of `frameBytes` nobody reads; how bob's stream ended (or 'still open' after `waitMs`). */
  async function flood(protocol: string, frames: number, frameBytes: number, waitMs = 10_000): Promise<string> {
    const w = new RawWire(await alice.dialProtocol(bob.getMultiaddrs()[0] as Parameters<Libp2p['dialProtocol']>[0], protocol));
    await w.json({ op: 'hello' });
    try {
      for (let i = 0; i < frames; i++) await w.frame(Buffer.alloc(frameBytes, 0x41));
    } catch {
      // bob reset the stream while we wrote
    }
    const ended = await Promise.race([held, sleep(waitMs).then(() => 'still open')]);
    w.stream.abort(new Error('test done'));
    return ended;
  }

  it(`a message stream is reset once more than ${MESSAGE_STREAM_BUFFER_BYTES} bytes wait unread (libp2p alone kept 4 MiB)`, async () => {
    // 2 MiB of frames nobody asked for: under libp2p's own 4 MiB limit, far over one message
    expect(await flood(HOLD, 32, 64 * 1024)).toMatch(/^reset: .*buffer/i);
  });

  it('a stream that receives packs keeps 3 unacknowledged 1 MiB frames unread, and is reset past them', async () => {
    expect(await flood(HOLD_PACKS, 3, FRAME, 2_000)).toBe('still open');
    // 4 frames of 900 KiB: past what a pack stream keeps, still under libp2p's own 4 MiB
    expect(await flood(HOLD_PACKS, 4, 900 * 1024)).toMatch(/^reset: .*buffer/i);
  });
});
