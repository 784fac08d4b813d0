// Yamux window updates once half the window is used (SPEC 13.1, "Relayed throughput").
// @chainsafe/libp2p-yamux 8 answers every data frame with a window update: a frame of its own that
// Noise encrypts and the socket writes, and on a relayed connection an inner update crosses the
// relay as a frame of the outer connection (decrypted, framed, encrypted again there) that is
// itself answered by an outer update at each hop. Here a stream holds its update back while less
// than half of its receive window is used, as go-yamux and rust-yamux do: the sender always has at
// least half a window left, and the updates per byte fall with the window's size. A new stream's
// first update (SYN/ACK flags) and a paused stream are left to yamux itself. The wire is unchanged:
// yamux lets a receiver send updates when it likes.
//
// A stream's receive window grows (yamux doubles it while the stream reads fast against the
// connection's round trip) up to MAX_STREAM_WINDOW_BYTES, not yamux's 16 MiB: a paused stream (our
// relay pauses the streams it joins, relay-circuits.ts) still receives what its sender had been
// granted, into a read buffer that @libp2p/utils aborts the stream over (4 MiB); within that
// window, pausing never aborts a stream.
import { yamux } from '@chainsafe/libp2p-yamux';
import { StreamState, type YamuxStream } from '@chainsafe/libp2p-yamux/stream';
import type { MessageStream, StreamMuxerFactory } from '@libp2p/interface';

/** The largest receive window a stream grows to: @libp2p/utils' read-buffer limit (DEFAULT_MAX_READ_BUFFER_LENGTH). */
export const MAX_STREAM_WINDOW_BYTES = 4 * 1024 * 1024;

/** A library other than the one these hooks were written for: Cairn refuses it rather than run with a different flow control. */
export class YamuxInternalsError extends Error {
  override readonly name = 'YamuxInternalsError';
}

/** The receive-window bookkeeping of a YamuxStream (@chainsafe/libp2p-yamux 8, private there). */
interface StreamWindow {
  state: StreamState;
  recvWindow: number;
  recvWindowCapacity: number;
  sendWindowUpdate(): void;
}

/** A stream's window update waits until at least half of its receive window is used. */
export function halfWindowUpdates(stream: YamuxStream): void {
  const s = stream as unknown as StreamWindow;
  if (typeof s.recvWindow !== 'number' || typeof s.recvWindowCapacity !== 'number' || typeof s.sendWindowUpdate !== 'function')
    throw new YamuxInternalsError('yamux stream has no recvWindow/recvWindowCapacity/sendWindowUpdate (a @chainsafe/libp2p-yamux other than 8?)');
  const update = s.sendWindowUpdate.bind(s);
  s.sendWindowUpdate = () => {
    if (s.state === StreamState.Established && s.recvWindow - s.recvWindowCapacity < s.recvWindow / 2) return;
    update();
  };
}

interface MuxerInternals {
  _newStream(...args: unknown[]): YamuxStream;
}

/** yamux(init) whose streams send window updates per half window (halfWindowUpdates), their windows at most MAX_STREAM_WINDOW_BYTES. */
export function yamuxHalfWindowUpdates(init: Parameters<typeof yamux>[0] = {}): () => StreamMuxerFactory {
  const factory = yamux({ ...init, streamOptions: { maxStreamWindowSize: MAX_STREAM_WINDOW_BYTES, ...init.streamOptions } });
  return () => {
    const y = factory();
    const create = y.createStreamMuxer.bind(y);
    y.createStreamMuxer = (maConn: MessageStream) => {
      const muxer = create(maConn);
      const m = muxer as unknown as MuxerInternals;
      if (typeof m._newStream !== 'function') throw new YamuxInternalsError('yamux muxer has no _newStream (a @chainsafe/libp2p-yamux other than 8?)');
      const newStream = m._newStream.bind(muxer);
      m._newStream = (...args: unknown[]) => {
        const stream = newStream(...args);
        halfWindowUpdates(stream);
        return stream;
      };
      return muxer;
    };
    return y;
  };
}
