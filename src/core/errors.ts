/** Domain errors. HTTP status codes are assigned only at the edge (src/server/errors.ts). */

/**
 * Every error code Berth reports: a closed set, so the HTTP status map (src/server/errors.ts) must
 * name a status for each one and a new code does not compile until it has one.
 */
export type ErrorCode =
  // Requests and the API.
  | 'invalid_input'
  | 'unauthorized'
  | 'forbidden'
  | 'quota_exceeded'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'internal'
  // Long operations.
  | 'aborted'
  | 'preempted'
  | 'shutdown'
  // The git gateway and git operations.
  | 'git_failed'
  | 'git_timeout'
  | 'mirror_failed'
  | 'upstream_failed'
  | 'bundle_failed'
  // Provisioners.
  | 'provisioner_error'
  | 'not_running'
  | 'invalid_spec'
  | 'clone_failed'
  | 'setup_failed'
  | 'user_not_found'
  | 'image_not_found'
  | 'image_pull_failed'
  | 'engine_unreachable'
  | 'container_create_failed'
  | 'container_start_failed'
  | 'exec_failed'
  | 'files_failed';

/** Base class of every error Berth shows to a user: a stable code plus an actionable sentence. */
export class BerthError extends Error {
  /** Stable, machine-readable code, e.g. `not_found`. */
  readonly code: ErrorCode;
  /** Optional structured details safe to show to the caller. */
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
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

/** A workspace would take its user or project over a quota, or onto a provisioner the project may not use. */
export class QuotaExceededError extends BerthError {
  constructor(message: string, options?: { details?: Record<string, unknown> }) {
    super('quota_exceeded', message, options);
  }
}

/** A provisioner (shell, docker, agent, kubernetes) failed to do its part. */
export class ProvisionerError extends BerthError {
  /** Whether retrying the same operation later may succeed. */
  readonly retryable: boolean;
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown>; retryable?: boolean; code?: ErrorCode }) {
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
