// One JSON request and its reply on a fresh stream to a friend (head, pack-delete), within the
// inactivity timeout per frame and a deadline for the whole exchange (deadline.ts).
import type { PeerId } from '@libp2p/interface';
import { MAX_MESSAGE_BYTES } from '../../../protocol/mesh.js';
import { limitsOf, type MeshContext } from './context.js';
import { Deadline, openStream, transferDeadlineMs } from './deadline.js';
import { exchange } from './framing.js';

/** Sends `body` and reads the reply (a refusal throws RefusedError). */
export async function requestJson<T>(ctx: MeshContext, peer: PeerId, protocol: string, body: unknown): Promise<T> {
  const limits = limitsOf(ctx);
  const deadline = new Deadline(transferDeadlineMs(2 * MAX_MESSAGE_BYTES, limits), `${protocol} request`);
  try {
    const stream = await openStream(ctx.node, peer, protocol, limits, deadline);
    return await exchange(stream, { frameTimeoutMs: limits.frameTimeoutMs, deadline }, async (f) => {
      await f.writeJson(body);
      return f.readReply<T>();
    });
  } finally {
    deadline.dispose();
  }
}
