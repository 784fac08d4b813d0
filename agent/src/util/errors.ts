// Error base classes. Every error that reaches a user carries a stable code and an exit code:
// 1 = the operation failed (transient or permanent), 2 = bad usage or input, 3 = a backup committed
// but left entries out.

export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
/** A backup committed a snapshot but some entries could not be read (`cairn backup`, volumes too). */
export const EXIT_INCOMPLETE = 3;

export class CairnError extends Error {
  readonly code: string;
  readonly exitCode: number;
  constructor(code: string, message: string, exitCode: number = EXIT_FAILED, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CairnError';
    this.code = code;
    this.exitCode = exitCode;
  }
}

/** Bad usage or input: exit 2. */
export class UsageError extends CairnError {
  constructor(message: string, code = 'E_USAGE') {
    super(code, message, EXIT_USAGE);
    this.name = 'UsageError';
  }
}

/** Stored data failed verification: a pack or blob is damaged, truncated or missing. */
export class CorruptionError extends CairnError {
  readonly packId: string | undefined;
  constructor(message: string, packId?: string, code = 'E_CORRUPT') {
    super(code, message);
    this.name = 'CorruptionError';
    this.packId = packId;
  }
}

export class WrongPassphraseError extends CairnError {
  constructor(keyFile: string) {
    super('E_PASSPHRASE', `wrong passphrase: it does not unlock the key file ${keyFile}`);
    this.name = 'WrongPassphraseError';
  }
}

/** The exit code of a command whose job was cancelled by its own Ctrl-C (128 + SIGINT, as a shell reports it). */
export const EXIT_INTERRUPTED = 130;

/** The command's own Ctrl-C cancelled its job in the agent, which stopped: exit 130. */
export class InterruptedError extends CairnError {
  constructor(message: string) {
    super('E_CANCELLED', message, EXIT_INTERRUPTED);
    this.name = 'InterruptedError';
  }
}

/** A job stopped on request at a safe point (an AbortSignal's reason): nothing half-done was committed. */
export class CancelledError extends CairnError {
  constructor(message = 'cancelled') {
    super('E_CANCELLED', message);
    this.name = 'CancelledError';
  }
}

/** Throws the signal's reason (a CancelledError) once it is aborted: the work stops at this safe point. */
export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof CancelledError ? signal.reason : new CancelledError();
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  // libp2p sometimes rejects with a close/abort Event that carries the error
  const inner = (err as { error?: unknown } | null)?.error;
  if (inner !== undefined && inner !== null) return errorMessage(inner);
  if (typeof Event !== 'undefined' && err instanceof Event) return `stream ${err.type}`;
  return String(err);
}
