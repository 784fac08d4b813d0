// Yamux window updates per half window (yamux-window.ts, SPEC 13.1 "Relayed throughput"). Relies on
// @chainsafe/libp2p-yamux 8 answering every data frame with a window update (stream.ts
// sendWindowUpdate after handleData) and on its private _newStream/recvWindow bookkeeping, which
// the hook checks for. Two real yamux muxers over libp2p's in-memory connection pair; the frames
// the receiving muxer writes are decoded from its connection.
import type { MessageStream, Stream, StreamMuxer } from '@libp2p/interface';
import { multiaddrConnectionPair } from '@libp2p/utils';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, expect, test } from 'vitest';
import { halfWindowUpdates, MAX_STREAM_WINDOW_BYTES, yamuxHalfWindowUpdates, YamuxInternalsError } from '../../src/mesh/yamux-window.js';
import type { YamuxStream } from '@chainsafe/libp2p-yamux/stream';

const FRAME_BYTES = 16 * 1024;
const TOTAL_BYTES = 1024 * 1024;
/** yamux's initial stream window (its spec's 256 KiB). */
const WINDOW_BYTES = 256 * 1024;
const HEADER_BYTES = 12;
const WINDOW_UPDATE = 1;

const muxers: StreamMuxer[] = [];
afterEach(async () => {
  for (const m of muxers.splice(0)) m.abort(new Error('test over'));
});

/** Counts the yamux window-update frames written to `conn` (after the test's muxer was put on it). */
function countWindowUpdates(conn: MessageStream): () => number {
  let updates = 0;
  let pending = Buffer.alloc(0);
  const send = conn.send.bind(conn);
  conn.send = (data) => {
    const bytes = data instanceof Uint8Array ? data : data.subarray();
    pending = Buffer.concat([pending, bytes]);
    while (pending.length >= HEADER_BYTES) {
      const type = pending[1];
      const length = pending.readUInt32BE(8);
      const frame = HEADER_BYTES + (type === 0 ? length : 0);
      if (pending.length < frame) break;
      if (type === WINDOW_UPDATE) updates++;
      pending = pending.subarray(frame);
    }
    return send(data);
  };
  return () => updates;
}

test('a receiving stream answers data with one window update per half window, not one per frame; every byte arrives', async () => {
  const [outConn, inConn] = multiaddrConnectionPair();
  const updates = countWindowUpdates(inConn);
  const factory = yamuxHalfWindowUpdates({ enableKeepAlive: false })();
  const client = factory.createStreamMuxer(outConn);
  const server = factory.createStreamMuxer(inConn);
  muxers.push(client, server);
  let got = 0;
  const received = new Promise<Stream>((resolve) =>
    server.addEventListener('stream', (evt) => {
      const s = evt.detail;
      s.addEventListener('message', (m) => (got += m.data.byteLength));
      resolve(s);
    }),
  );
  const stream = await client.createStream();
  const chunk = new Uint8Array(FRAME_BYTES).fill(1);
  // one frame at a time, each read before the next is sent: every frame is its own data frame
  for (let sent = 0; sent < TOTAL_BYTES; sent += FRAME_BYTES) {
    if (!stream.send(chunk)) await stream.onDrain();
    const want = sent + FRAME_BYTES;
    for (let i = 0; i < 500 && got < want; i++) await sleep(1);
    expect(got).toBe(want);
  }
  await received;
  // the stream's opening update (ACK) and one per half window received; yamux 8 alone sends 64
  expect(updates()).toBeGreaterThan(0);
  expect(updates()).toBeLessThanOrEqual(1 + TOTAL_BYTES / (WINDOW_BYTES / 2));
});

test('a paused stream whose window grew as far as it can is not aborted: what its sender may still send fits its read buffer', async () => {
  const [outConn, inConn] = multiaddrConnectionPair();
  const factory = yamuxHalfWindowUpdates({ enableKeepAlive: false })();
  const client = factory.createStreamMuxer(outConn);
  const server = factory.createStreamMuxer(inConn);
  muxers.push(client, server);
  const received = new Promise<Stream>((resolve) => server.addEventListener('stream', (evt) => resolve(evt.detail)));
  const stream = await client.createStream();
  stream.send(new Uint8Array(1));
  const s = await received;
  // the window as yamux grows it on a fast link with a long round trip (it doubles while the
  // stream reads fast against the round trip): as far as it can, granted to the sender at once
  const w = s as unknown as { recvWindow: number; maxStreamWindowSize: number; sendWindowUpdate(): void };
  w.recvWindow = w.maxStreamWindowSize;
  w.sendWindowUpdate();
  await sleep(50);
  s.pause(); // our relay pauses a stream whose other end is full (relay-circuits.ts)
  const chunk = new Uint8Array(64 * 1024).fill(2);
  for (let sent = 0; sent < 2 * w.maxStreamWindowSize; sent += chunk.length) stream.send(chunk);
  for (let i = 0; i < 100 && s.readBufferLength < w.maxStreamWindowSize - 2 * chunk.length; i++) await sleep(20);
  expect(w.maxStreamWindowSize).toBe(MAX_STREAM_WINDOW_BYTES);
  expect(s.status).toBe('open');
  expect(s.readBufferLength).toBeGreaterThan(0);
  expect(s.readBufferLength).toBeLessThanOrEqual(MAX_STREAM_WINDOW_BYTES);
});

test('a yamux other than the one the hook was written for is refused, not run with its own flow control', () => {
  expect(() => halfWindowUpdates({ sendWindowUpdate: () => undefined } as unknown as YamuxStream)).toThrow(YamuxInternalsError);
});
