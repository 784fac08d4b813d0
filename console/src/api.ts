// The console's only way to the agent: its HTTP API. A browser session sends its CSRF token on
// every POST; errors come back as { code, message } and are shown as they are.
import { API_PREFIX, RESPOND_ASYNC, type Job, type OperationArgs, type OperationName, type OperationResult } from '../../protocol/api.js';
import { CSRF_HEADER, ROUTES, type SessionInfo } from '../../protocol/console-api.js';

let csrf: string | null = null;

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function api<T>(method: 'GET' | 'POST', path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<T> {
  const headers: Record<string, string> = { ...extraHeaders };
  if (method === 'POST') {
    headers['content-type'] = 'application/json';
    if (csrf) headers[CSRF_HEADER] = csrf;
  }
  const res = await fetch(path, { method, headers, credentials: 'same-origin', ...(method === 'POST' ? { body: JSON.stringify(body ?? {}) } : {}) });
  const data = (await res.json().catch(() => null)) as (T & { code?: string; message?: string }) | null;
  if (!res.ok) throw new ApiError(res.status, data?.code ?? 'E_HTTP', data?.message ?? `${res.status} ${res.statusText}`);
  return data as T;
}

/** POST /api/v1/ops/<name>: the same operations the CLI runs, typed by the catalogue (protocol/api.ts OPERATIONS). */
export function op<K extends OperationName>(
  name: K,
  ...args: Record<string, never> extends OperationArgs<K> ? [OperationArgs<K>?] : [OperationArgs<K>]
): Promise<OperationResult<K>> {
  return api<OperationResult<K>>('POST', `${API_PREFIX}/ops/${name}`, args[0] ?? {});
}

/** Starts an operation the agent runs as a job (restore, backup, prune, check, replicate) and answers the job at once (SPEC 13.7); follow it with useJob (job-watch.ts). */
export function startJob<K extends OperationName>(name: K, args: OperationArgs<K>): Promise<Job> {
  return api<Job>('POST', `${API_PREFIX}/ops/${name}`, args, { prefer: RESPOND_ASYNC });
}

export async function login(password: string): Promise<SessionInfo> {
  const s = await api<SessionInfo>('POST', ROUTES.login.path, { password });
  csrf = s.csrfToken;
  return s;
}

/** The current session, if the browser still has one (after a reload). */
export async function currentSession(): Promise<SessionInfo | null> {
  try {
    const s = await api<SessionInfo>('GET', ROUTES.session.path);
    csrf = s.csrfToken;
    return s;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null;
    throw err;
  }
}

export async function logout(): Promise<void> {
  await api('POST', ROUTES.logout.path);
  csrf = null;
}
