/** The one place where domain errors become HTTP status codes and the JSON error shape. */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { BerthError, type ErrorCode } from '../core/errors.ts';
import type { ErrorBody } from '../sdk/wire.ts';

// Exhaustive: a code added to ErrorCode does not compile until it has a status here.
const STATUS: Record<ErrorCode, number> = {
  invalid_input: 400,
  invalid_spec: 400,
  user_not_found: 400,
  image_not_found: 400,
  unauthorized: 401,
  forbidden: 403,
  quota_exceeded: 403,
  not_found: 404,
  conflict: 409,
  not_running: 409,
  aborted: 409,
  preempted: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  internal: 500,
  // What the server depends on (git, an upstream, a Docker engine) failed: a bad gateway.
  provisioner_error: 502,
  engine_unreachable: 502,
  git_failed: 502,
  mirror_failed: 502,
  upstream_failed: 502,
  bundle_failed: 502,
  clone_failed: 502,
  setup_failed: 502,
  image_pull_failed: 502,
  container_create_failed: 502,
  container_start_failed: 502,
  exec_failed: 502,
  files_failed: 502,
  shutdown: 503,
  git_timeout: 504,
};

/** HTTP status for a domain error code. */
export function statusFor(code: ErrorCode): number {
  return STATUS[code];
}

interface AjvIssue {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

/** Turns a schema validation issue into a sentence naming the field. */
export function describeValidation(context: string, issue: AjvIssue): string {
  const field = `${context}${issue.instancePath.replace(/\//g, '.')}`.replace(/^body\./, '');
  switch (issue.keyword) {
    case 'additionalProperties':
      return `Unknown field "${String(issue.params.additionalProperty)}" in ${field === 'body' ? 'the request body' : field}.`;
    case 'required':
      return `Missing required field "${String(issue.params.missingProperty)}"${field === 'body' ? '' : ` in ${field}`}.`;
    case 'pattern':
      if (/^(spec\.)?env\.\d+\.name$|^unsetEnv\.\d+$/.test(field)) return `${field} must be an environment variable name: letters, digits and '_', not starting with a digit.`;
      if (/(^|\.)name$|^params\.ref$|(^|\.)project$|(^|\.)provisioner$/.test(field)) {
        return `${field} is not a valid name: use 1 to 63 lowercase letters, digits or '-', starting and ending with a letter or digit.`;
      }
      if (/^(branch|ref)$/.test(field)) {
        return `${field} has an invalid format: it must be a git branch name (no spaces or ~ ^ : ? * [ \\, no "..", "@{" or "//", not starting with "-" or ".", not ending with "/", "." or ".lock").`;
      }
      return `${field} has an invalid format.`;
    case 'type':
      return `${field} must be of type ${String(issue.params.type)}.`;
    case 'maxLength':
      return `${field} is too long (at most ${String(issue.params.limit)} characters).`;
    case 'minLength':
      return `${field} is too short (at least ${String(issue.params.limit)} characters).`;
    case 'maxItems':
      return `${field} has too many entries (at most ${String(issue.params.limit)}).`;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
      return `${field} ${issue.message ?? 'is out of range'}.`;
    default:
      return `${field} ${issue.message ?? 'is invalid'}.`;
  }
}

/** Fastify error handler: domain errors, validation errors and framework errors, never a stack trace. */
export function errorHandler(err: FastifyError | BerthError, req: FastifyRequest, reply: FastifyReply): void {
  let status: number;
  let body: ErrorBody;
  if (err instanceof BerthError) {
    status = statusFor(err.code);
    body = { error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } };
  } else if ('validation' in err && err.validation) {
    status = 400;
    const issue = err.validation[0] as unknown as AjvIssue;
    body = { error: { code: 'invalid_input', message: describeValidation(err.validationContext ?? 'body', issue) } };
  } else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    status = 413;
    body = { error: { code: 'payload_too_large', message: 'The request body is larger than this server accepts.' } };
  } else if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    status = 415;
    body = { error: { code: 'unsupported_media_type', message: 'Send the request body as application/json.' } };
  } else if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    status = 400;
    body = { error: { code: 'invalid_input', message: 'The request declares a JSON body but sends none.' } };
  } else if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    status = err.statusCode;
    const message = err instanceof SyntaxError || /JSON/.test(err.message) ? 'The request body is not valid JSON.' : err.message;
    body = { error: { code: 'invalid_input', message } };
  } else {
    status = 500;
    req.log.error({ err }, 'internal error');
    body = { error: { code: 'internal', message: `Internal error (request ${req.id}); the server log has the details.` } };
  }
  if (status >= 500 && err instanceof BerthError) req.log.warn({ err }, 'request failed');
  void reply.status(status).send(body);
}
