// The benchmark's agent: `cairn` with the bench sink (/cairn/bench-sink/1.0.0, bench-sink.ts) on its
// mesh and the benchStream API op, which streams bytes to a friend's sink and times it. bench/mesh.ts
// runs `node dist/bench/sink/agent.js agent ...` instead of bin/cairn.js; the product never loads
// this code. Usage and options are cairn's.
import type { Services } from '../../agent/src/ops/services.js';
import { needMesh } from '../../agent/src/ops/services.js';
import { extendAgent } from '../../agent/src/daemon.js';
import { ProtocolService } from '../../agent/src/mesh/service.js';
import { UsageError } from '../../agent/src/util/errors.js';
import { BENCH_SINK_PROTOCOL, BENCH_STREAM_MODES, benchSinkHandler, benchStreamTo, type BenchStreamArgs, type BenchStreamResult } from './bench-sink.js';

/** API op benchStream: stream `bytes` to the friend `peerId`'s sink. */
async function benchStreamOp(svc: Services, args: BenchStreamArgs): Promise<BenchStreamResult> {
  const mesh = needMesh(svc, 'benchStream');
  if (!(await mesh.ledgers.friends.get(args.peerId))) throw new UsageError(`${args.peerId} is not a friend`, 'E_NOT_FRIEND');
  return benchStreamTo(mesh.ctx, args.peerId, args.bytes, args.mode ?? 'windowed', svc.repo.store);
}

extendAgent({
  meshServices: (ctx) => [new ProtocolService(ctx.node, BENCH_SINK_PROTOCOL, benchSinkHandler(ctx))],
  ops: {
    benchStream: {
      op: benchStreamOp,
      schema: {
        type: 'object',
        required: ['peerId', 'bytes'],
        additionalProperties: false,
        properties: {
          peerId: { type: 'string', maxLength: 4096 },
          bytes: { type: 'integer', minimum: 0, maximum: 2 ** 40 },
          mode: { enum: [...BENCH_STREAM_MODES] },
        },
      },
      writes: false,
    },
  },
});
await import('../../agent/src/cli/main.js');
