/** Fastify routes of the git gateway at `/git/<project>.git/…`, outside /api/v1, with their own auth and plain-text errors. */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BerthError, UnauthorizedError } from '../../core/errors.ts';
import type { AuthService } from '../auth.ts';
import { statusFor } from '../errors.ts';
import { formatSize } from '../../core/units.ts';
import { limitBody } from './cgi.ts';
import type { GitMetrics } from '../metrics.ts';
import type { GitGateway, GitService } from './gateway.ts';

/** What the git routes need. */
export interface GitHttpDeps {
  auth: AuthService;
  gateway: GitGateway;
  /** Counts requests by service and status (GET /metrics). */
  metrics?: GitMetrics;
}

/**
 * Registers the smart-HTTP endpoints; mount with `{ prefix: '/git' }`. A missing or bad token gets
 * 401 with `WWW-Authenticate: Basic`, so git asks its credential helpers; other errors are
 * text/plain, which git prints to the user as `remote: …` lines.
 */
export async function gitHttpRoutes(git: FastifyInstance, deps: GitHttpDeps): Promise<void> {
  // Request bodies (packs) are streamed to git untouched: no parsing, no size limit, no buffering.
  git.removeAllContentTypeParsers();
  git.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

  git.setErrorHandler((err: FastifyError | BerthError, req: FastifyRequest, reply: FastifyReply) => {
    const status = err instanceof BerthError ? statusFor(err.code) : (err.statusCode ?? 500);
    if (status >= 500) req.log.warn({ err }, 'git gateway request failed');
    if (status === 401) void reply.header('www-authenticate', 'Basic realm="berth", charset="UTF-8"');
    const message = err instanceof BerthError || status < 500 ? err.message : `Internal error (request ${req.id}); the server log has the details.`;
    void reply.status(status).header('content-type', 'text/plain; charset=utf-8').header('cache-control', 'no-store').send(`${message}\n`);
  });

  git.addHook('onResponse', async (req, reply) => deps.metrics?.gitRequest(req.url, reply.statusCode));

  git.addHook('onRequest', async (req) => {
    try {
      req.principal = await deps.auth.authenticate(req.headers.authorization);
    } catch (err) {
      if (err instanceof UnauthorizedError && !req.headers.authorization) {
        throw new UnauthorizedError('Authentication required: use a Berth token (workspace or user token) as the password; any user name works.');
      }
      throw err;
    }
  });

  const handle = (endpoint: string) => async (req: FastifyRequest<{ Params: { repo: string } }>, reply: FastifyReply) => {
    const controller = new AbortController();
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) controller.abort();
    });
    const qs = req.url.indexOf('?');
    const service = endpoint === 'git-receive-pack' ? 'receive-pack' : 'upload-pack';
    const limit = deps.gateway.bodyLimit(service);
    const tooLarge = () => {
      // The client may still be sending; the connection ends with the answer rather than read the rest.
      void reply.header('connection', 'close');
      return tooLargeError(service, limit);
    };
    if (req.method === 'POST' && Number(req.headers['content-length']) > limit) throw tooLarge();
    const limited = req.method === 'POST' ? limitBody(req.raw, limit) : undefined;
    let res;
    try {
      res = await deps.gateway.serve({
        principal: req.principal,
        method: req.method as 'GET' | 'POST',
        repo: req.params.repo,
        endpoint,
        query: qs === -1 ? '' : req.url.slice(qs + 1),
        headers: req.headers,
        remoteAddr: req.ip,
        ...(limited ? { body: limited.body } : {}),
        signal: controller.signal,
      });
    } catch (err) {
      throw limited?.exceeded ? tooLarge() : err;
    }
    const backend = res;
    controller.signal.addEventListener('abort', () => backend.kill(), { once: true });
    if (limited) {
      // Nothing is answered before the whole body was seen, so an oversized one still gets its 413.
      await Promise.race([limited.done, res.exited]);
      if (limited.exceeded) {
        res.kill();
        throw tooLarge();
      }
    }
    void reply.status(res.status);
    for (const [k, v] of Object.entries(res.headers)) void reply.header(k, v);
    return reply.send(res.body);
  };

  const hide = { schema: { hide: true } };
  git.get('/:repo/info/refs', hide, handle('info/refs'));
  git.post('/:repo/git-upload-pack', hide, handle('git-upload-pack'));
  git.post('/:repo/git-receive-pack', hide, handle('git-receive-pack'));
  git.all('/*', hide, async (req) => {
    throw new BerthError('not_found', `No git endpoint ${req.method} ${req.url.split('?')[0]}; clone with: git clone <server>/git/<project>.git`);
  });
}

/** The 413 for an oversized request body, which git shows after "error: RPC failed; HTTP 413". */
function tooLargeError(service: GitService, limit: number): BerthError {
  const [what, option, hint] =
    service === 'receive-pack'
      ? ['This push', '--git-push-limit', 'push fewer commits at a time']
      : ['This fetch request', '--git-fetch-limit', 'fetch fewer refs at a time'];
  return new BerthError('payload_too_large', `${what} is larger than the git gateway accepts (${formatSize(limit)}, set by ${option}); ${hint} or ask an admin to raise the limit.`);
}
