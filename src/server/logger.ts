/** Structured JSON logging with secrets redacted wherever they could appear. */
import pino, { type Logger } from 'pino';

/** Paths pino censors in every log line. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'token',
  '*.token',
  'password',
  '*.password',
  'secretKey',
  'databaseUrl',
  'config.secretKey',
  'config.databaseUrl',
  'env.BERTH_WORKSPACE_TOKEN',
  '*.env',
];

const TOKEN_RE = /berth_[uw]_[A-Za-z0-9_-]{43}/g;

/** Replaces any Berth token inside free text, for messages built from untrusted output. */
export function scrubTokens(text: string): string {
  return text.replace(TOKEN_RE, 'berth_*_[redacted]');
}

/** Creates the process logger writing JSON lines to stderr; `redact` rewrites each finished line (secret values known at run time). */
export function createLogger(level: string, destination: NodeJS.WritableStream = process.stderr, redact?: (line: string) => string): Logger {
  // Whole lines are rewritten, so a secret is caught wherever it sits: message, error, stack or object.
  const out = redact ? { write: (line: string) => destination.write(redact(line)) } : destination;
  return pino(
    {
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
      hooks: {
        logMethod(args, method) {
          // Free-text messages can quote command output; scrub tokens from them too.
          const scrubbed = args.map((a) => (typeof a === 'string' ? scrubTokens(a) : a)) as typeof args;
          return method.apply(this, scrubbed);
        },
      },
    },
    out,
  );
}
