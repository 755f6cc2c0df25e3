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

/**
 * A provisioner cannot observe or reach its backend (engine, API server, agent): an outage, never a
 * verdict on the workspace. The reconciler shows the workspace `unreachable` and changes nothing
 * until the backend answers again; attempts are not counted toward `failed`.
 */
export class UnreachableError extends ProvisionerError {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, { ...options, retryable: true, code: 'engine_unreachable' });
  }
}

/** Whether an error says the backend could not be reached (also when it crossed the wire as its code, e.g. from an agent). */
export function isUnreachable(err: unknown): boolean {
  return err instanceof BerthError && err.code === 'engine_unreachable';
}

/** Socket and TLS error codes that mean "could not talk to the other side", not "it answered no". */
const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EPIPE', 'ENOENT', 'EACCES', 'EAI_AGAIN', 'ENOTFOUND',
  'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET', 'ERR_SOCKET_CONNECTION_TIMEOUT', 'ERR_TLS_CERT_ALTNAME_INVALID', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'EPROTO',
]);

/**
 * The one classification of transport failures every provisioner uses: a connection refused, reset
 * or timed out, no route, a socket missing or forbidden, or a TLS failure (the error or its cause).
 */
export function isNetworkFailure(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    // An HTTP status means the other side answered (an image pull's own TLS failure is not ours).
    if (typeof code === 'number' || typeof (e as { statusCode?: unknown }).statusCode === 'number') return false;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
    if (e instanceof Error && /socket hang up|certificate|self.signed|\bTLS\b|SSL routines|handshake/i.test(e.message)) return true;
  }
  return false;
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
