// Few, large writes under Noise (SPEC 13.1, "Relayed throughput"). @chainsafe/libp2p-noise 17 hands
// the connection below it a list of pieces per batch it encrypts: each 2-byte length prefix, each
// piece of ciphertext (one per piece of plaintext: a yamux header, each buffer the data arrived in)
// and each 16-byte tag on its own; @libp2p/tcp 11 writes every piece with its own socket.write,
// and with TCP_NODELAY (libp2p's default) each goes out as a packet of its own. On a relayed
// connection the inner Noise's pieces become the outer yamux frame's pieces, and the relay's Noise
// splits them again: 27 write(2) calls per 64 KiB relayed (alice, the relay and bob together,
// strace, 2026-12-05), most under 100 bytes. Here the encrypter's connection gets what Noise sends
// as one buffer per batch (a copy of the pieces, at most COALESCED_WRITE_MAX_BYTES each): 2.5
// write(2) calls per 64 KiB relayed, with yamux-window.ts's window updates.
import type { ConnectionEncrypter, MessageStream, SecureConnectionOptions } from '@libp2p/interface';

/** The largest buffer a batch of small pieces is copied into; a batch larger than this goes out as several. */
export const COALESCED_WRITE_MAX_BYTES = 256 * 1024;

type Chunk = Parameters<MessageStream['send']>[0];

/**
 * `data` as few buffers as it takes: consecutive pieces copied into one buffer of at most `maxBytes`
 * (a piece larger than that stays as it is). A single piece is returned as it is, uncopied.
 */
export function coalescedPieces(data: Chunk, maxBytes: number = COALESCED_WRITE_MAX_BYTES): Uint8Array[] {
  if (data instanceof Uint8Array) return [data];
  const out: Uint8Array[] = [];
  let run: Uint8Array[] = [];
  let runBytes = 0;
  const flush = (): void => {
    if (run.length === 1) out.push(run[0] as Uint8Array);
    else if (run.length > 1) out.push(Buffer.concat(run, runBytes));
    run = [];
    runBytes = 0;
  };
  for (const piece of data as Iterable<Uint8Array>) {
    if (piece.byteLength === 0) continue;
    if (runBytes > 0 && runBytes + piece.byteLength > maxBytes) flush();
    run.push(piece);
    runBytes += piece.byteLength;
  }
  flush();
  return out;
}

/**
 * Makes `conn` (the connection an encrypter is handed: a TCP connection, or the stream a relayed
 * connection runs on) send each batch as one buffer. What `send` answers (whether more may be
 * sent) is the connection's own answer for the last buffer.
 */
export function coalesceWrites(conn: MessageStream): void {
  const send = conn.send.bind(conn);
  conn.send = (data: Chunk): boolean => {
    let more = true;
    for (const piece of coalescedPieces(data)) more = send(piece);
    return more;
  };
}

/**
 * `encrypter` (Noise) writing through coalesceWrites, the handshake and every batch it encrypts. The
 * encrypter itself is returned (its protocol and the capabilities libp2p looks for stay its own),
 * with its two entry points wrapped.
 */
export function coalescingEncrypter<C, E extends ConnectionEncrypter>(encrypter: (components: C) => E): (components: C) => E {
  return (components: C) => {
    const inner = encrypter(components);
    const secureInbound = inner.secureInbound.bind(inner);
    const secureOutbound = inner.secureOutbound.bind(inner);
    inner.secureInbound = (connection: MessageStream, options?: SecureConnectionOptions) => {
      coalesceWrites(connection);
      return secureInbound(connection, options);
    };
    inner.secureOutbound = (connection: MessageStream, options?: SecureConnectionOptions) => {
      coalesceWrites(connection);
      return secureOutbound(connection, options);
    };
    return inner;
  };
}
