// Talking to a running agent: CAIRN_HOME/agent.json names its API and token.
import { readFile } from 'node:fs/promises';
import { Readable, type Writable } from 'node:stream';
import { API_PREFIX, API_TOKEN_HEADER, JOB_STREAM_MAX_LINE_CHARS, JOB_STREAM_TYPE, type JobStreamEvent } from '../../../protocol/api.js';
import { agentInfoPath, type AgentInfo } from '../repo/home.js';
import { CairnError, errorMessage, EXIT_FAILED } from '../util/errors.js';
import { pinnedFetch } from './pinned-https.js';
import { processAlive } from '../util/process-alive.js';

/** The running agent of this home, or undefined (no agent.json, or its process is gone). */
export async function findAgent(home: string): Promise<AgentInfo | undefined> {
  let info: AgentInfo;
  try {
    info = JSON.parse(await readFile(agentInfoPath(home), 'utf8')) as AgentInfo;
  } catch {
    return undefined;
  }
  return typeof info.pid === 'number' && processAlive(info.pid) ? info : undefined;
}

async function request(
  agent: AgentInfo,
  path: string,
  init: { method: string; headers?: Record<string, string>; body?: string | ReadableStream<Uint8Array> },
): Promise<Response> {
  const headers = { ...init.headers, [API_TOKEN_HEADER]: agent.token };
  try {
    // an agent serving TLS: its certificate is pinned, the token never goes to another server
    if (agent.api.startsWith('https:')) {
      if (!agent.tls) throw new Error('it serves TLS but agent.json has no certificate to check it against');
      return await pinnedFetch(`${agent.api}${path}`, { method: init.method, headers, ...(init.body !== undefined ? { body: init.body } : {}) }, agent.tls);
    }
    // a streamed body goes out as it is read (fetch needs duplex: 'half' for that)
    return await fetch(`${agent.api}${path}`, { ...init, headers, ...(typeof init.body === 'object' ? { duplex: 'half' } : {}) } as RequestInit);
  } catch (err) {
    throw new CairnError(
      'E_AGENT_UNREACHABLE',
      `the agent (pid ${agent.pid}) holds this home but its API at ${agent.api} does not answer: ${(err as Error).message}`,
    );
  }
}

async function fail(res: Response): Promise<never> {
  const body = (await res.json().catch(() => ({}))) as { code?: string; message?: string; exitCode?: number };
  throw new CairnError(body.code ?? 'E_AGENT', body.message ?? `the agent answered HTTP ${res.status}`, body.exitCode ?? EXIT_FAILED);
}

export async function callOp<R>(agent: AgentInfo, name: string, args: unknown): Promise<R> {
  const res = await request(agent, `${API_PREFIX}/ops/${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(args),
  });
  if (!res.ok) return fail(res);
  return (await res.json()) as R;
}

/**
 * Runs operation `name` in the agent as a job, following its NDJSON stream (SPEC 13.7): `onEvent`
 * sees the job, its progress and log lines as they come; resolves with the result, or throws the
 * error the stream ends with (a cancelled job: E_CANCELLED).
 */
export async function streamOp<R>(agent: AgentInfo, name: string, args: unknown, onEvent: (e: JobStreamEvent) => void): Promise<R> {
  const res = await request(agent, `${API_PREFIX}/ops/${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: JOB_STREAM_TYPE },
    body: JSON.stringify(args),
  });
  if (!res.ok || !res.body) return fail(res);
  const decoder = new TextDecoder();
  let pending = '';
  const body = (async function* () {
    try {
      yield* res.body as unknown as AsyncIterable<Uint8Array>;
    } catch (err) {
      // the agent went away mid-job (killed, or its connection cut)
      throw new CairnError('E_AGENT_UNREACHABLE', `the agent (pid ${agent.pid}) stopped answering during the ${name} job: ${errorMessage(err)}`);
    }
  })();
  for await (const chunk of body) {
    pending += decoder.decode(chunk, { stream: true });
    if (pending.length > JOB_STREAM_MAX_LINE_CHARS)
      throw new CairnError('E_AGENT', `the agent's job stream sent a line of more than ${JOB_STREAM_MAX_LINE_CHARS} characters`);
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.trim() === '') continue;
      const e = JSON.parse(line) as JobStreamEvent;
      if (e.type === 'result') return e.result as R;
      if (e.type === 'error') throw new CairnError(e.code, e.message, e.exitCode);
      onEvent(e);
    }
  }
  throw new CairnError('E_AGENT_UNREACHABLE', `the agent (pid ${agent.pid}) ended the ${name} job's stream before its result`);
}

/** GET one of the agent's routes (protocol/console-api.ts ROUTES) with its token. */
export async function getRoute<R>(agent: AgentInfo, path: string): Promise<R> {
  const res = await request(agent, path, { method: 'GET' });
  if (!res.ok) return fail(res);
  return (await res.json()) as R;
}

export async function streamExport(agent: AgentInfo, query: Record<string, string>, out: Writable, route: 'export' | 'dump' = 'export'): Promise<void> {
  const res = await request(agent, `${API_PREFIX}/${route}?${new URLSearchParams(query)}`, { method: 'GET' });
  if (!res.ok || !res.body) return fail(res);
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
  }
}

/** POSTs `body` to one of the agent's streamed routes (backup-stdin) as it is read, and returns the JSON answer. */
export async function streamUpload<R>(agent: AgentInfo, route: string, query: Record<string, string>, body: Readable): Promise<R> {
  const res = await request(agent, `${API_PREFIX}/${route}?${new URLSearchParams(query)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: Readable.toWeb(body) as ReadableStream<Uint8Array>,
  });
  if (!res.ok) return fail(res);
  return (await res.json()) as R;
}
