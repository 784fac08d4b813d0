// Every operation as POST /api/v1/ops/<name>, plus GET /api/v1/export for tar streams. The CLI and
// the console use exactly these. In the agent, backup, restore, replicate, prune and check run as
// jobs (ops/job-ops.ts): the answer is the result as before, or (`prefer: respond-async`) the job
// at once, or (`accept: application/x-ndjson`) a stream of the job, its progress and the result.
import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import {
  API_PREFIX,
  JOB_STREAM_HEARTBEAT_MS,
  JOB_STREAM_TYPE,
  OPERATIONS,
  RESPOND_ASYNC,
  type JobStreamEvent,
  type OperationArgs,
  type OperationName,
  type OperationResult,
} from '../../../protocol/api.js';
import { errorSpec } from '../../../protocol/errors.js';
import { CairnError, errorMessage, EXIT_FAILED, throwIfCancelled, UsageError } from '../util/errors.js';
import { fromBytes } from '../util/byte-names.js';
import type { Clock } from '../util/clock.js';
import type { StdinArchiver } from '../snapshot/stdin-archiver.js';
import { JOB_KINDS, jobSubject, LOCKS_ITSELF, runJobOp } from '../ops/job-ops.js';
import { auditOp } from '../ops/audit.js';
import { runBackup } from '../ops/run-backup.js';
import { browseOp, diffOp, findOp, lsOp } from '../ops/browse.js';
import { checkOp } from '../ops/check.js';
import { drillDeps, drillOp } from '../ops/drill.js';
import { hideSourceOp } from '../ops/dashboard-hidden.js';
import { pruneOp } from '../ops/prune.js';
import { jobCancelOp, jobShowOp, jobsOf, jobsOp, runSourceOp } from '../ops/jobs.js';
import type { JobEvent, JobHandle } from '../scheduler/scheduler.js';
import { configOp } from '../ops/config.js';
import { dumpPlan, exportPlan, type DumpPlan } from '../ops/export.js';
import { friendRemoveOp, inviteOp, pairOp, peersOp, replicateOp } from '../ops/friends.js';
import { forgetOp } from '../ops/forget.js';
import { askOp, grantOp } from '../ops/grants.js';
import { pinOp, unpinOp } from '../ops/pin.js';
import { restoreOp } from '../ops/restore.js';
import { needMesh, type Services } from '../ops/services.js';
import { adHocKey } from '../ops/activity.js';
import { attachment } from './content-disposition.js';
import { snapshotsOp } from '../ops/snapshots.js';
import { statsOp } from '../ops/stats.js';
import { tagOp } from '../ops/tag.js';
import { volumeRestoreOp, volumesOp } from '../ops/volumes.js';

type Op = (svc: Services, args: never) => Promise<unknown>;

/** An operation outside the catalogue (the benchmark's agent adds one): arguments checked by `schema`; `writes` holds the repository's write lock. */
export interface ExtraOp {
  op: Op;
  schema: object;
  writes: boolean;
}

/**
 * Each operation of the catalogue (protocol/api.ts OPERATIONS), typed by it: arguments in, result out.
 * An operation that needs a part the agent may lack (the mesh, the scheduler) gets it checked here.
 */
const IMPLEMENTATIONS: { [K in OperationName]: (svc: Services, args: OperationArgs<K>) => Promise<OperationResult<K>> } = {
  backup: (svc, a) => runBackup(svc, { kind: 'paths', args: a }),
  config: (svc) => configOp(svc),
  snapshots: (svc, a) => snapshotsOp(svc, a),
  ls: (svc, a) => lsOp(svc, a),
  browse: (svc, a) => browseOp(svc, a),
  find: (svc, a) => findOp(svc, a),
  stats: (svc, a) => statsOp(svc, a),
  diff: (svc, a) => diffOp(svc, a),
  restore: (svc, a) => restoreOp(svc, a),
  run: (svc, a) => runSourceOp(jobsOf(svc), a),
  jobs: (svc, a) => jobsOp(jobsOf(svc), a),
  jobShow: (svc, a) => jobShowOp(jobsOf(svc), a),
  hideSource: (svc, a) => hideSourceOp(svc, a),
  jobCancel: (svc, a) => jobCancelOp(jobsOf(svc), a),
  prune: (svc, a) => pruneOp(svc, a),
  check: (svc, a) => checkOp(svc, a),
  invite: (svc, a) => inviteOp({ mesh: needMesh(svc, 'creating an invite') }, a),
  pair: (svc, a) => pairOp({ mesh: needMesh(svc, 'pairing') }, a),
  peers: (svc) => peersOp({ ...svc, mesh: needMesh(svc, 'listing friends') }),
  unpair: (svc, a) => friendRemoveOp({ mesh: needMesh(svc, 'removing a friend') }, a),
  volumes: (svc) => volumesOp(svc),
  volumeBackup: (svc, a) => runBackup(svc, { kind: 'volumes', args: a }),
  volumeRestore: (svc, a) => volumeRestoreOp(svc, a),
  forget: (svc, a) => forgetOp(svc, a),
  pin: (svc, a) => pinOp(svc, a),
  unpin: (svc, a) => unpinOp(svc, a),
  tag: (svc, a) => tagOp(svc, a),
  replicate: (svc, a) => replicateOp({ mesh: needMesh(svc, 'replication') }, a),
  audit: (svc, a) => auditOp({ mesh: needMesh(svc, 'a storage audit') }, a),
  grant: (svc, a) => grantOp({ mesh: needMesh(svc, 'changing a grant') }, a),
  ask: (svc, a) => askOp({ ...svc, mesh: needMesh(svc, 'asking for space') }, a),
  drill: (svc, a) => drillOp(drillDeps(svc), a),
};

/** name -> [operation, JSON schema of its arguments, holds the repository write lock]: the catalogue's. */
export const OPS: Record<string, [Op, object, boolean]> = Object.fromEntries(
  (Object.keys(OPERATIONS) as OperationName[]).map((name) => [name, [IMPLEMENTATIONS[name] as Op, OPERATIONS[name].args, OPERATIONS[name].lock]]),
);

const str = { type: 'string', maxLength: 4096 } as const;

/** An error as the stream's last line: the code, message and exit code the error answer would carry. */
function errorEvent(err: unknown, job: string): JobStreamEvent {
  if (err instanceof CairnError) {
    const spec = errorSpec(err.code);
    return { type: 'error', code: err.code, message: err.message, exitCode: spec?.exit ?? err.exitCode, job };
  }
  return { type: 'error', code: 'E_INTERNAL', message: errorMessage(err), exitCode: EXIT_FAILED, job };
}

export function registerOpsRoutes(app: FastifyInstance, svc: Services, extra: Record<string, ExtraOp> = {}): void {
  const extras = Object.entries(extra).map(([name, e]): [string, [Op, object, boolean]] => {
    if (name in OPS) throw new Error(`operation ${name} is Cairn's own: an extra operation cannot replace it`);
    return [name, [e.op, e.schema, e.writes]];
  });
  for (const [name, [op, schema, writes]] of [...Object.entries(OPS), ...extras]) {
    app.post(`${API_PREFIX}/ops/${name}`, { schema: { body: schema }, config: { auth: 'admin' } }, async (req, reply) => {
      // a backup takes the lock and records its outcome itself (ops/run-backup.ts)
      const locks = writes && !LOCKS_ITSELF.has(name as OperationName);
      const perform = async (run: () => Promise<unknown>) => {
        try {
          return locks ? await svc.repo.writeLock.with(1, run) : await run();
        } finally {
          svc.afterOp?.();
        }
      };
      const kind = JOB_KINDS[name as OperationName];
      const scheduler = svc.scheduler;
      if (!kind || !scheduler) return perform(() => op(svc, req.body as never));
      const { source, label } = jobSubject(name as OperationName, req.body);
      const { job, done } = await scheduler.adHoc(kind, source, label, (handle) => perform(() => runJobOp(svc, name as OperationName, req.body, handle)));
      if (req.headers.prefer === RESPOND_ASYNC) {
        done.catch(() => undefined); // the job's record has the outcome
        return reply.code(202).send(job);
      }
      if (!(req.headers.accept ?? '').includes(JOB_STREAM_TYPE)) return done;
      // the stream: the job, its progress and log lines as they come, then the result or the error
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': JOB_STREAM_TYPE, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
      // a client that goes away does not stop the job (jobCancel does); writes to its closed
      // response are dropped (e2e/jobs-cancel.test.ts 'a CLI killed while it follows a job')
      const send = (e: JobStreamEvent) => res.write(`${JSON.stringify(e)}\n`);
      send({ type: 'job', job });
      const on = (e: JobEvent) => {
        if (e.job.id !== job.id) return;
        if (e.type === 'progress') send({ type: 'progress', progress: e.job.progress });
        else if (e.type === 'log' && e.job.log.length > 0) send({ type: 'log', line: e.job.log[e.job.log.length - 1] as string });
      };
      scheduler.events.on('job', on);
      // a job waiting (for the write lock) says nothing for a while: the stream still moves
      const beat = setInterval(() => send({ type: 'progress', progress: job.progress }), JOB_STREAM_HEARTBEAT_MS);
      try {
        send({ type: 'result', result: await done });
      } catch (err) {
        send(errorEvent(err, job.id));
      } finally {
        clearInterval(beat);
        scheduler.events.off('job', on);
        res.end();
      }
    });
  }
  /** Why a stdin backup's job was cancelled when its upload was cut (its error reads "cancelled <this>"). */
  const STDIN_SENDER_GONE = 'because the command sending standard input stopped before the input ended';
  // backup --stdin: the body is the file, streamed into the chunker (never held whole); its own
  // scope, so only this route parses application/octet-stream
  void app.register(async (scope) => {
    scope.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));
    scope.post(
      `${API_PREFIX}/backup-stdin`,
      {
        config: { auth: 'admin', octetStream: true },
        schema: { querystring: { type: 'object', required: ['filename'], additionalProperties: false, properties: { filename: str, tags: str } } },
      },
      async (req) => {
        const q = req.query as { filename: string; tags?: string };
        const args = { filename: q.filename, tags: q.tags ? q.tags.split(',').filter((t) => t !== '') : [] };
        const input = req.body as AsyncIterable<Uint8Array>;
        // the connection closed with the body unfinished: the sender went away (not a failure of ours)
        let senderGone = false;
        req.raw.once('close', () => {
          if (!req.raw.complete) senderGone = true;
        });
        // a job like any ad-hoc backup (cairn jobs, the console): its bytes as progress; cancelled, it
        // stops before the next piece of the stream and commits nothing (as a cut stream does)
        const run = async (handle?: JobHandle) => {
          let stopReporting = () => {};
          try {
            return await runBackup(
              svc,
              {
                kind: 'stdin',
                args,
                input: handle ? untilCancelled(input, handle.signal) : input,
                onStart: (a) => {
                  if (handle) stopReporting = reportStdinProgress(a, handle, svc.clock);
                },
              },
              handle ? { signal: handle.signal, jobId: handle.job.id } : {},
            );
          } catch (err) {
            // the command that sent the input stopped before the input ended (Ctrl-C kills it, and
            // the stream is cut): nothing was committed, and the job ends cancelled, saying why
            if (handle && (senderGone || (req.raw.destroyed && !req.raw.complete)) && svc.scheduler?.cancel(handle.job.id, STDIN_SENDER_GONE))
              throw handle.signal.reason;
            throw err;
          } finally {
            stopReporting();
          }
        };
        if (!svc.scheduler) return run();
        const path = `/${args.filename}`;
        const { done } = await svc.scheduler.adHoc('backup', adHocKey([path]), `${path} from standard input`, run);
        return done;
      },
    );
  });
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
  // streams: a tar of a snapshot (or a path in it), and dump's file bytes (or a folder's tar), the
  // console's downloads (a Content-Disposition naming the file or the folder's tar)
  // the path as text (`path`), or as its exact bytes in hex (`pathHex`: a name that is not UTF-8)
  const streamRoute = (path: string, plan: (q: { snapshot: string; path?: string }) => Promise<DumpPlan>) =>
    app.get(
      `${API_PREFIX}/${path}`,
      {
        config: { auth: 'admin' },
        schema: {
          querystring: {
            type: 'object',
            required: ['snapshot'],
            additionalProperties: false,
            properties: { snapshot: str, path: str, pathHex: { type: 'string', maxLength: 2 * str.maxLength, pattern: '^([0-9a-f]{2})+$' } },
          },
        },
      },
      async (req, reply) => {
        const q = req.query as { snapshot: string; path?: string; pathHex?: string };
        if (q.path !== undefined && q.pathHex !== undefined) throw new UsageError('give the path as path or as pathHex, not both');
        const asked = q.pathHex !== undefined ? fromBytes(Buffer.from(q.pathHex, 'hex')) : q.path;
        const p = await plan({ snapshot: q.snapshot, ...(asked !== undefined ? { path: asked } : {}) }); // a wrong snapshot or path: an error answer
        reply.type(p.tar ? 'application/x-tar' : 'application/octet-stream');
        reply.header('content-disposition', attachment(p.filename));
        if (p.size !== undefined) reply.header('content-length', String(p.size));
        const out = new PassThrough();
        // a download the browser cancels (or a connection lost) fails the writer, which would
        // otherwise wait for room in `out` forever
        reply.raw.once('close', () => {
          if (!reply.raw.writableFinished) out.destroy(new CairnError('E_OUTPUT_CLOSED', `the ${path} stream was closed by its reader before its end`));
        });
        void p.write(out).catch((err: unknown) => out.destroy(err as Error));
        return reply.send(out);
      },
    );
  streamRoute('export', async (q) => ({ write: await exportPlan(svc, q), filename: exportName(q), tar: true }));
  streamRoute('dump', (q) => {
    if (q.path === undefined) throw new UsageError('dump needs the path of a file or folder (path or pathHex)');
    return dumpPlan(svc, { snapshot: q.snapshot, path: q.path });
  });
}

/** export's download name: the snapshot (and the path's last name), as a tar. */
function exportName(q: { snapshot: string; path?: string }): string {
  const last = (q.path ?? '').split('/').filter(Boolean).at(-1);
  return `${last ?? `snapshot-${q.snapshot.slice(0, 8)}`}.tar`;
}

/** Pieces of a stream until the signal fires (then its reason, a CancelledError, is thrown). */
async function* untilCancelled(input: AsyncIterable<Uint8Array>, signal: AbortSignal): AsyncGenerator<Uint8Array> {
  for await (const piece of input) {
    throwIfCancelled(signal);
    yield piece;
  }
}

/** A standard-input backup's bytes read so far, as its job's progress every half second; returns the stop. */
function reportStdinProgress(a: StdinArchiver, handle: JobHandle, clock: Clock): () => void {
  const t0 = clock.now();
  const tick = setInterval(() => {
    const secs = Math.max(0.001, (clock.now() - t0) / 1000);
    handle.progress({ files: 0, bytes: a.progress.bytesDone, bytesPerSec: Math.round(a.progress.bytesDone / secs), currentPath: a.progress.currentPath });
  }, 500);
  tick.unref();
  return () => clearInterval(tick);
}
