// Every operation as POST /api/v1/ops/<name>, plus GET /api/v1/export for tar streams. The CLI and
// the console use exactly these.
import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { API_PREFIX } from '../../../protocol/api.js';
import { VOLUME_READ_MODES } from '../../../protocol/config.js';
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

const str = { type: 'string', maxLength: 4096 } as const;
const strList = { type: 'array', items: str, maxItems: 1000 } as const;
const uint = { type: 'integer', minimum: 0 } as const;
/** SnapshotFilter (protocol/api.ts). */
const filter = { type: 'object', additionalProperties: false, properties: { source: str, host: str, paths: strList, tags: strList } } as const;
/** A retention count: a number of snapshots, or -1 = unlimited. */
const count = { type: 'integer', minimum: -1 } as const;

/** name -> [operation, JSON schema of its arguments, holds the repository write lock]. */
export const OPS: Record<string, [Op, object, boolean]> = {
  backup: [backupOp as Op, { type: 'object', required: ['paths', 'tags'], additionalProperties: false, properties: { paths: { ...strList, minItems: 1 }, tags: strList, source: str } }, true],
  config: [configOp as Op, { type: 'object', additionalProperties: false, properties: {} }, false],
  snapshots: [snapshotsOp as Op, { type: 'object', additionalProperties: false, properties: { filter, latest: { type: 'integer', minimum: 1, maximum: 1_000_000 } } }, false],
  ls: [lsOp as Op, { type: 'object', required: ['snapshot'], additionalProperties: false, properties: { snapshot: str, path: str } }, false],
  diff: [diffOp as Op, { type: 'object', required: ['from', 'to'], additionalProperties: false, properties: { from: str, to: str } }, false],
  restore: [
    restoreOp as Op,
    { type: 'object', required: ['snapshot', 'target', 'include', 'overwrite'], additionalProperties: false, properties: { snapshot: str, filter, target: str, include: strList, overwrite: { type: 'boolean' }, from: str } },
    false,
  ],
  run: [runSourceOp as Op, { type: 'object', required: ['source'], additionalProperties: false, properties: { source: str } }, false],
  jobs: [jobsOp as Op, { type: 'object', additionalProperties: false, properties: { source: str, limit: { type: 'integer', minimum: 1, maximum: 2000 } } }, false],
  jobShow: [jobShowOp as Op, { type: 'object', required: ['id'], additionalProperties: false, properties: { id: str } }, false],
  prune: [pruneOp as Op, { type: 'object', required: ['dryRun'], additionalProperties: false, properties: { dryRun: { type: 'boolean' }, maxUnusedPercent: { type: 'number', minimum: 0, maximum: 100 } } }, true],
  check: [checkOp as Op, { type: 'object', required: ['readData'], additionalProperties: false, properties: { readData: { type: 'boolean' } } }, true],
  invite: [inviteOp as Op, { type: 'object', required: ['quotaBytes', 'expiresInMs'], additionalProperties: false, properties: { quotaBytes: uint, expiresInMs: { ...uint, minimum: 1000 } } }, false],
  pair: [pairOp as Op, { type: 'object', required: ['code', 'quotaBytes'], additionalProperties: false, properties: { code: str, quotaBytes: uint } }, false],
  peers: [peersOp as Op, { type: 'object', additionalProperties: false, properties: {} }, false],
  unpair: [friendRemoveOp as Op, { type: 'object', required: ['peerId', 'dryRun'], additionalProperties: false, properties: { peerId: str, dryRun: { type: 'boolean' } } }, false],
  volumes: [volumesOp as Op, { type: 'object', additionalProperties: false, properties: {} }, false],
  volumeBackup: [
    volumeBackupOp as Op,
    { type: 'object', required: ['paths', 'volumes', 'tags'], additionalProperties: false, properties: { paths: strList, volumes: { ...strList, minItems: 1 }, tags: strList, volumeRead: { type: 'string', enum: [...VOLUME_READ_MODES] } } },
    true,
  ],
  volumeRestore: [
    volumeRestoreOp as Op,
    { type: 'object', required: ['snapshot', 'volume', 'force', 'dryRun'], additionalProperties: false, properties: { snapshot: str, volume: str, fromVolume: str, force: { type: 'boolean' }, dryRun: { type: 'boolean' } } },
    false,
  ],
  forget: [
    forgetOp as Op,
    {
      type: 'object',
      required: ['dryRun'],
      additionalProperties: false,
      properties: {
        policy: {
          type: 'object',
          additionalProperties: false,
          properties: {
            keepLast: count,
            keepHourly: count,
            keepDaily: count,
            keepWeekly: count,
            keepMonthly: count,
            keepYearly: count,
            keepWithinMs: { ...uint, minimum: 1 },
            keepTags: strList,
          },
        },
        source: str,
        dryRun: { type: 'boolean' },
        timeZone: str,
      },
    },
    true,
  ],
  pin: [pinOp as Op, { type: 'object', required: ['snapshot'], additionalProperties: false, properties: { snapshot: str } }, true],
  unpin: [unpinOp as Op, { type: 'object', required: ['snapshot'], additionalProperties: false, properties: { snapshot: str } }, true],
  replicate: [replicateOp as Op, { type: 'object', required: ['wait'], additionalProperties: false, properties: { wait: { type: 'boolean' } } }, false],
};

// benchmark only (npm run bench, CAIRN_BENCH_SINK=1): stream bytes to a friend's bench sink and time it
if (benchSinkEnabled()) {
  OPS.benchStream = [
    benchStreamOp as Op,
    { type: 'object', required: ['peerId', 'bytes'], additionalProperties: false, properties: { peerId: str, bytes: { ...uint, maximum: 2 ** 40 }, mode: { enum: [...BENCH_STREAM_MODES] } } },
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
  app.get(`${API_PREFIX}/export`, { config: { auth: 'admin' }, schema: { querystring: { type: 'object', required: ['snapshot'], additionalProperties: false, properties: { snapshot: str, path: str } } } }, async (req, reply) => {
    const q = req.query as { snapshot: string; path?: string };
    reply.type('application/x-tar');
    const out = new PassThrough();
    void exportOp(svc, q, out).catch((err: unknown) => out.destroy(err as Error));
    return reply.send(out);
  });
}
