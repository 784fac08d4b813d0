// The error catalogue: every code the agent, its API and its CLI give a user, with the CLI exit code
// and the HTTP status it carries, and what it means. SPEC section 12.1 prints this table and
// agent/test/protocol/error-catalogue.test.ts checks the two agree, and that every code the code
// base uses is here. The CLI's exit code and the API's status come from this table, not from where
// an error was thrown. Wire refusal codes (friends' answers) are `WireError` in protocol/mesh.ts.

/** 1 = the operation failed; 2 = bad usage or input (SPEC 12). */
export type ExitCode = 1 | 2;

export interface ErrorSpec {
  exit: ExitCode;
  http: number;
  meaning: string;
}

const failed = (http: number, meaning: string): ErrorSpec => ({ exit: 1, http, meaning });
const usage = (http: number, meaning: string): ErrorSpec => ({ exit: 2, http, meaning });

export const ERRORS = {
  // ---- usage and input (exit 2)
  E_USAGE: usage(400, 'the command or its arguments are not valid'),
  E_BAD_ARGS: usage(400, 'an argument is out of range (e.g. --max-unused)'),
  E_BAD_REQUEST: usage(400, 'an API request body failed validation or is too large'),
  E_CONFIG: usage(400, 'cairn.yaml has an error (the message names file, line and field)'),
  E_BAD_POLICY: usage(400, 'a retention policy is not valid'),
  E_NO_POLICY: usage(400, 'forget was given no retention policy and none is configured'),
  E_BAD_TIMEZONE: usage(400, 'not an IANA time zone'),
  E_CRON: usage(400, 'not a valid cron expression'),
  E_BAD_SNAPSHOT: usage(400, 'a snapshot record has an unreadable time'),
  E_BAD_SNAPSHOT_ID: usage(400, 'not a snapshot ID ("latest" or at least 8 hex digits)'),
  E_AMBIGUOUS: usage(400, 'a snapshot ID prefix (or the end of a job ID) matches several'),
  E_NOT_FOUND: usage(404, 'no such path in the snapshot, job, friend or token'),
  E_SOURCE: usage(400, 'a path to back up does not exist or is not readable'),
  E_EMPTY_SOURCE: usage(400, 'a configured source has nothing to back up now (no volume matches)'),
  E_NO_SOURCE: usage(400, 'no source of that name in cairn.yaml'),
  E_NO_VOLUME: usage(400, 'no such Docker volume, or the snapshot holds none or several'),
  E_VOLUME_EXISTS: usage(400, 'the volume to restore into exists (use --force)'),
  E_VOLUME_UNREADABLE: usage(400, 'a volume can be read neither through its mountpoint nor a helper container'),
  E_NO_REPO: usage(400, 'no repository in this home (run cairn init, or set CAIRN_HOME)'),
  E_EXISTS: usage(400, 'a repository already exists here'),
  E_NO_AGENT: usage(400, 'the command needs the running agent'),
  E_NO_CONFIG: usage(400, 'no settings file is loaded'),
  E_PHRASE: usage(400, 'the recovery phrase is not 24 valid words'),
  E_PHRASE_FILE: usage(400, 'the phrase file is missing, unsafe (not mode 600) or malformed'),
  E_NOT_A_TERMINAL: usage(400, 'the recovery phrase is shown only on a terminal'),
  E_INVITE_FORMAT: usage(400, 'not an invite code'),
  E_INVITE_SELF: usage(400, 'this agent made the invite'),
  E_NOT_FRIEND: usage(400, 'the peer is not a friend'),
  E_TOKENS_FULL: usage(400, 'the API token limit is reached'),
  E_CONSOLE_TLS: usage(400, 'the console cannot serve TLS with the given certificate settings'),
  E_LISTEN: usage(400, "a port to listen on is in use, or the address is not this machine's"),
  E_LOGIN: usage(401, 'wrong console password'),
  E_CURRENT_PASSPHRASE: usage(400, 'the current passphrase given to change it is wrong'),
  E_WEAK_PASSPHRASE: usage(400, 'a new passphrase is too easy to guess, or the example placeholder'),
  // ---- API access (answered before any operation runs)
  E_AUTH: failed(401, 'missing or wrong API token or session'),
  E_SCOPE: failed(403, 'the API token lacks the scope for this route'),
  E_CSRF: failed(403, 'missing or wrong CSRF header on a console request'),
  E_HOST: failed(421, 'the Host header does not name this agent'),
  E_CONTENT_TYPE: failed(415, 'request bodies must be application/json'),
  E_RATE_LIMITED: failed(429, 'too many attempts: wait and retry'),
  E_ROUTE: failed(404, 'no such route, or not available in this agent'),
  // ---- the operation failed (exit 1)
  E_INTERNAL: failed(500, 'an unexpected failure (a bug): the message says where'),
  E_PASSPHRASE: failed(500, 'wrong passphrase for the key file'),
  E_KEYFILE: failed(500, 'the key file is missing, damaged or of another repository'),
  E_REPO_CONFIG: failed(500, 'the repository config (repo/config.json) is damaged or of an unknown version'),
  E_STATE: failed(500, 'the state database cannot be opened'),
  E_LOCKED: failed(500, 'another cairn process holds this home'),
  E_AUTH_FILE: failed(500, 'console-auth.json is damaged'),
  E_NOTIFY_FILE: failed(500, 'notifications.json is damaged'),
  E_NO_PROC: failed(500, '/proc is not mounted'),
  E_CORRUPT: failed(500, 'stored data failed verification'),
  E_PACK_MISSING: failed(500, 'a pack the index names is missing'),
  E_PACK_TRUNCATED: failed(500, 'a pack is shorter than the index says'),
  E_DISK_FULL: failed(500, 'the disk is full (ENOSPC); nothing was lost'),
  E_DISK_WRITE: failed(500, 'a write failed'),
  E_NO_SNAPSHOT: failed(500, 'no such snapshot, or none yet'),
  E_PINNED: failed(500, 'the snapshot is pinned: unpin it first'),
  E_NOT_A_DIRECTORY: failed(500, 'the restore source is not a directory in the snapshot'),
  E_RESTORE_CONFLICT: failed(500, 'the restore target holds different files (use --overwrite)'),
  E_RESTORE_INCOMPLETE: failed(500, 'some items could not be restored'),
  E_OUTPUT_CLOSED: failed(500, 'the reader of an export closed it early'),
  E_SWAPPED: failed(500, 'a file changed into another one while it was read (a symlink race?)'),
  E_VOLUME_ARCHIVE: failed(500, 'a volume archive from Docker is malformed or unsafe'),
  E_DOCKER: failed(500, 'a Docker call failed'),
  E_DOCKER_UNAVAILABLE: failed(500, 'no Docker engine answers'),
  E_HOOK_FAILED: failed(500, 'a consistency hook (stop, exec-before) failed'),
  E_RESUME_FAILED: failed(500, 'the snapshot was saved, but containers could not be started again'),
  E_STOPPED_FILE: failed(500, 'the record of stopped containers cannot be read'),
  E_BUSY: failed(500, 'that source is already running'),
  E_STOPPING: failed(503, 'the agent is stopping: no new job starts until it has started again'),
  E_JOB_FAILED: failed(500, 'the job failed or was cancelled'),
  E_CANCELLED: failed(409, 'the operation was cancelled (Ctrl-C, cairn jobs cancel, the console): nothing half-done was kept'),
  E_CHECK_FAILED: failed(500, 'check found errors'),
  E_ALERTS: failed(500, 'status has alerts that need attention'),
  E_UNDER_REPLICATED: failed(500, 'some packs have fewer copies at friends than wanted'),
  E_AUDIT_FAILED: failed(500, 'a friend failed storage challenges: those copies no longer count'),
  E_DRILL_FAILED: failed(500, 'a restore drill found a sampled piece that no friend served intact'),
  E_NO_FRIENDS: failed(500, 'no friend holds a copy yet: pair with a friend first'),
  E_NO_MESH: failed(500, 'this needs the friend mesh, which this agent does not run'),
  E_UNREACHABLE: failed(500, 'the inviter or friend cannot be reached'),
  E_RECOVER: failed(500, 'recovery could not start from this friend'),
  E_DEADLINE: failed(500, 'a friend exchange ran past its deadline'),
  E_STALLED: failed(500, 'a friend stopped sending (inactivity)'),
  E_RELAY_LIMITED: failed(500, "a friend is reachable only through a relay that limits relayed connections (someone else's relay)"),
  E_LIST_FAULT: failed(500, "a friend's pack list broke the rules (order, bounds)"),
  E_AGENT: failed(500, 'the agent answered with an error it did not name'),
  E_AGENT_UNREACHABLE: failed(500, 'the agent holds this home but its API does not answer'),
  E_HTTP: failed(500, 'the console got an HTTP error without a Cairn code (a proxy in between?)'),
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** The catalogue entry of `code`, if it has one. */
export function errorSpec(code: string): ErrorSpec | undefined {
  return Object.hasOwn(ERRORS, code) ? ERRORS[code as ErrorCode] : undefined;
}
