// The process's pool of pack-frame buffers (PACK_FRAME_BYTES each), shared by the hashing writer
// that stores incoming packs and the mesh framing that sends and receives them.
import { PACK_FRAME_BYTES } from '../../../protocol/mesh.js';
import { BufferPool } from '../util/buffer-pool.js';

/** The process's frame buffers: enough for a few packs in flight each way. */
export const framePool = new BufferPool(PACK_FRAME_BYTES, 32);
