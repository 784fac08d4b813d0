// Every operation as POST /api/v1/ops/<name>, plus GET /api/v1/export for tar streams. The CLI and
// the console use exactly these.
import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { API_PREFIX, OPERATIONS, type OperationArgs, type OperationName, type OperationResult } from '../../../protocol/api.js';
import { auditOp } from '../ops/audit.js';
import { backupOp } from '../ops/backup.js';
import { diffOp, lsOp } from '../ops/browse.js';
import { checkOp } from '../ops/check.js';
import { pruneOp } from '../ops/prune.js';
import { jobShowOp, jobsOp, runSourceOp } from '../ops/jobs.js';
import type { JobEvent } from '../scheduler/scheduler.js';
import { configOp } from '../ops/config.js';
import { exportOp } from '../ops/export.js';
import { friendRemoveOp, inviteOp, pairOp, peersOp, replicateOp } from '../ops/friends.js';
import { forgetOp } from '../ops/forget.js';
import { pinOp, unpinOp } from '../ops/pin.js';
import { restoreOp } from '../ops/restore.js';
import type { Services } from '../ops/services.js';
import { snapshotsOp } from '../ops/snapshots.js';
import { BENCH_STREAM_MODES, benchSinkEnabled, benchStreamOp } from '../ops/bench-stream.js';
import { volumeBackupOp, volumeRestoreOp, volumesOp } from '../ops/volumes.js';

type Op = (svc: Services, args: never) => Promise<unknown>;

/** Each operation of the catalogue (protocol/api.ts OPERATIONS), typed by it: arguments in, result out. */
const IMPLEMENTATIONS: { [K in OperationName]: (svc: Services, args: OperationArgs<K>) => Promise<OperationResult<K>> } = {
  backup: (svc, a) => backupOp(svc, a),
  config: (svc) => configOp(svc),
  snapshots: (svc, a) => snapshotsOp(svc, a),
  ls: (svc, a) => lsOp(svc, a),
  diff: (svc, a) => diffOp(svc, a),
  restore: (svc, a) => restoreOp(svc, a),
  run: (svc, a) => runSourceOp(svc, a),
  jobs: (svc, a) => jobsOp(svc, a),
  jobShow: (svc, a) => jobShowOp(svc, a),
  prune: (svc, a) => pruneOp(svc, a),
  check: (svc, a) => checkOp(svc, a),
  invite: (svc, a) => inviteOp(svc, a),
  pair: (svc, a) => pairOp(svc, a),
  peers: (svc) => peersOp(svc),
  unpair: (svc, a) => friendRemoveOp(svc, a),
  volumes: (svc) => volumesOp(svc),
  volumeBackup: (svc, a) => volumeBackupOp(svc, a),
  volumeRestore: (svc, a) => volumeRestoreOp(svc, a),
  forget: (svc, a) => forgetOp(svc, a),
  pin: (svc, a) => pinOp(svc, a),
  unpin: (svc, a) => unpinOp(svc, a),
  replicate: (svc, a) => replicateOp(svc, a),
  audit: (svc, a) => auditOp(svc, a),
};

/** name -> [operation, JSON schema of its arguments, holds the repository write lock]: the catalogue's, plus the bench's own below. */
export const OPS: Record<string, [Op, object, boolean]> = Object.fromEntries(
  (Object.keys(OPERATIONS) as OperationName[]).map((name) => [name, [IMPLEMENTATIONS[name] as Op, OPERATIONS[name].args, OPERATIONS[name].lock]]),
);
const str = { type: 'string', maxLength: 4096 } as const;
const uint = { type: 'integer', minimum: 0 } as const;

// benchmark only (npm run bench, CAIRN_BENCH_SINK=1): stream bytes to a friend's bench sink and time it
if (benchSinkEnabled()) {
  OPS.benchStream = [
    benchStreamOp as Op,
    {
      type: 'object',
      required: ['peerId', 'bytes'],
      additionalProperties: false,
      properties: { peerId: str, bytes: { ...uint, maximum: 2 ** 40 }, mode: { enum: [...BENCH_STREAM_MODES] } },
    },
    false,
  ];
}

/** A backup asked for through the API (a person or script; the scheduler records its own runs). */
function recordBackup(svc: Services, body: unknown, started: number, snapshot: string | null, error: string | null): void {
  const b = body as { source?: string; paths?: string[]; volumes?: string[] };
  const source = b.source ?? [...(b.volumes ?? []).map((v) => `volume:${v}`), ...(b.paths ?? [])].join(', ');
  const now = svc.clock.now();
  svc.activity?.backup({ source, ok: error === null, time: new Date(now).toISOString(), durationMs: now - started, snapshot, error, scheduled: false });
}

export function registerOpsRoutes(app: FastifyInstance, svc: Services): void {
  for (const [name, [op, schema, writes]] of Object.entries(OPS)) {
    app.post(`${API_PREFIX}/ops/${name}`, { schema: { body: schema }, config: { auth: 'admin' } }, async (req) => {
      const run = () => op(svc, req.body as never);
      const isBackup = name === 'backup' || name === 'volumeBackup';
      const started = svc.clock.now();
      try {
        const result = writes ? await svc.repo.writeLock.with(1, run) : await run();
        if (isBackup) {
          recordBackup(svc, req.body, started, (result as { id: string }).id, null);
          svc.afterBackup?.();
        }
        return result;
      } catch (err) {
        if (isBackup) recordBackup(svc, req.body, started, null, err instanceof Error ? err.message : String(err));
        throw err;
      }
    });
  }
  // live job events (created, progress, log, finished) as Server-Sent Events, for the console
  app.get(`${API_PREFIX}/jobs/events`, { config: { auth: 'admin' } }, async (req, reply) => {
    const scheduler = svc.scheduler;
    if (!scheduler) return reply.code(404).send({ code: 'E_ROUTE', message: 'no scheduler in this process' });
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', connection: 'keep-alive' });
    res.write(': cairn job events\n\n');
    const on = (e: JobEvent) => res.write(`event: ${e.type}\ndata: ${JSON.stringify(e.job)}\n\n`);
    scheduler.events.on('job', on);
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    req.raw.on('close', () => {
      clearInterval(ping);
      scheduler.events.off('job', on);
    });
  });
  app.get(
    `${API_PREFIX}/export`,
    {
      config: { auth: 'admin' },
      schema: { querystring: { type: 'object', required: ['snapshot'], additionalProperties: false, properties: { snapshot: str, path: str } } },
    },
    async (req, reply) => {
      const q = req.query as { snapshot: string; path?: string };
      reply.type('application/x-tar');
      const out = new PassThrough();
      void exportOp(svc, q, out).catch((err: unknown) => out.destroy(err as Error));
      return reply.send(out);
    },
  );
}
