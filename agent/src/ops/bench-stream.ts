// Benchmark only (npm run bench, CAIRN_BENCH_SINK=1): the benchStream API op, which streams bytes to a
// friend's bench sink (mesh/bench-sink.ts) and times it. The API registers it only when the sink is enabled.
import { benchStreamTo, type BenchStreamArgs, type BenchStreamResult } from '../mesh/bench-sink.js';
import { UsageError } from '../util/errors.js';
import { needMesh, type Services } from './services.js';

export { BENCH_STREAM_MODES, benchSinkEnabled } from '../mesh/bench-sink.js';

/** API op (registered only with CAIRN_BENCH_SINK=1): stream `bytes` to the friend `peerId`. */
export async function benchStreamOp(svc: Services, args: BenchStreamArgs): Promise<BenchStreamResult> {
  const mesh = needMesh(svc, 'benchStream');
  if (!(await mesh.ledgers.friends.get(args.peerId))) throw new UsageError(`${args.peerId} is not a friend`, 'E_NOT_FRIEND');
  return benchStreamTo(mesh.ctx, args.peerId, args.bytes, args.mode ?? 'windowed', svc.repo.store);
}
