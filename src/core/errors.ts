/** Domain errors. HTTP status codes are assigned only at the edge (src/server/errors.ts). */

/** Base class of every error Berth shows to a user: a stable code plus an actionable sentence. */
export class BerthError extends Error {
  /** Stable, machine-readable code, e.g. `not_found`. */
  readonly code: string;
  /** Optional structured details safe to show to the caller. */
  readonly details?: Record<string, unknown>;

  constructor(code: string, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    if (options?.details) this.details = options.details;
  }
}

/** The named thing does not exist (or the caller may not know that it does). */
export class NotFoundError extends BerthError {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super('not_found', message, options);
  }
}

/** The request conflicts with the current state (duplicate name, wrong phase). */
export class ConflictError extends BerthError {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super('conflict', message, options);
  }
}

/** The caller's input is malformed or violates a rule. */
export class InputError extends BerthError {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super('invalid_input', message, options);
  }
}

/** No valid credentials were presented. */
export class UnauthorizedError extends BerthError {
  constructor(message = 'Authentication required: pass a valid token as "Authorization: Bearer <token>".') {
    super('unauthorized', message);
  }
}

/** Valid credentials, but not allowed to do this. */
export class ForbiddenError extends BerthError {
  constructor(message: string) {
    super('forbidden', message);
  }
}

/** A provisioner (shell, docker, agent, kubernetes) failed to do its part. */
export class ProvisionerError extends BerthError {
  /** Whether retrying the same operation later may succeed. */
  readonly retryable: boolean;
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown>; retryable?: boolean; code?: string }) {
    super(options?.code ?? 'provisioner_error', message, options);
    this.retryable = options?.retryable ?? true;
  }
}

/** A long operation was cancelled through its AbortSignal. */
export class AbortedError extends BerthError {
  constructor(message = 'The operation was cancelled.') {
    super('aborted', message);
  }
}

/** Throws AbortedError if the signal has fired. */
export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new AbortedError();
}

/** The message of any thrown value, for sentences and logs (`String(err)` for non-errors). */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
