/** The HTTP application factory: builds a Fastify instance from services, with no socket, for tests and the server. */
import swagger from '@fastify/swagger';
import websocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type RouteOptions } from 'fastify';
import type { Logger } from 'pino';
import { NotFoundError } from '../core/errors.ts';
import type { ProvisionerRegistry } from '../provisioners/registry.ts';
import type { AuthService, Principal } from './auth.ts';
import { errorHandler } from './errors.ts';
import type { EventLog } from './events.ts';
import { gitHttpRoutes } from './git/http.ts';
import type { ProjectService } from './projects.ts';
import type { ProvisionerService } from './provisioners.ts';
import { redactErrorBody } from './redact.ts';
import type { WorkspaceContexts } from './contexts.ts';
import type { AgentService } from './agents.ts';
import { adminRoutes, type AdminRouteDeps } from './routes/admin.ts';
import { agentEnrollRoute, agentRoutes } from './routes/agents.ts';
import { authRoutes } from './routes/auth.ts';
import { gitRoutes, type GitRouteDeps } from './routes/git.ts';
import { mcpRoutes } from './routes/mcp.ts';
import { memberRoutes } from './routes/members.ts';
import { projectRoutes } from './routes/projects.ts';
import { provisionerRoutes } from './routes/provisioners.ts';
import { policyRoutes } from './routes/policy.ts';
import type { PolicyService } from './policy.ts';
import { workspaceRoutes } from './routes/workspaces.ts';
import { taskRoutes } from './routes/tasks.ts';
import type { TaskService } from './tasks/service.ts';
import type { ActivityTracker } from './activity.ts';
import type { TerminalService } from './terminals.ts';
import { healthRoutes, type HealthDeps } from './routes/health.ts';
import type { TlsFiles } from './tls.ts';
import type { WorkspaceService } from './workspaces.ts';
import { webUi, type WebUiDeps } from './web/ui.ts';
import { watchRoutes } from './web/watch.ts';

/** Everything the routes need. */
export interface AppDeps {
  logger: Logger;
  auth: AuthService;
  projects: ProjectService;
  workspaces: WorkspaceService;
  registry: ProvisionerRegistry;
  /** What provisioners are told about a workspace (exec and git need its environment and token). */
  contexts: WorkspaceContexts;
  events: EventLog;
  terminals: TerminalService;
  /** Provisioner instances: list, types, add, change, remove. */
  provisioners: ProvisionerService;
  bodyLimit: number;
  version: string;
  /** The registry of remote host agents; absent = not served. */
  agents?: AgentService;
  /** The git gateway (smart HTTP at /git, bundles) and git operations on workspaces; absent = not served. */
  git?: GitRouteDeps;
  /** Quarantined orphans, gc and backups (/admin); absent = not served. */
  admin?: Omit<AdminRouteDeps, 'auth'>;
  /** Quotas and the provisioners a project may use; absent = not served. */
  policy?: PolicyService;
  /** Certificate and key to serve HTTPS with; absent = plain HTTP. */
  https?: TlsFiles | undefined;
  /** /readyz and /metrics; absent = not served. */
  health?: HealthDeps;
  /** The URL clients reach the server at (--public-url): /mcp accepts it as a Host besides IP addresses and localhost. */
  publicUrl?: () => string;
  /** Task fan-out (/tasks); absent = not served. */
  tasks?: TaskService;
  /** What workspaces were last seen doing (their last command); absent = not recorded. */
  activity?: ActivityTracker;
  /** The browser UI at `/` and its cookie sessions; absent = API only. */
  web?: WebUiDeps;
}

/** The operations an OpenAPI 3.0 path item can hold; a route with any other method (QUERY, …) cannot be described. */
const OPENAPI_METHODS = new Set(['GET', 'PUT', 'POST', 'DELETE', 'OPTIONS', 'HEAD', 'PATCH', 'TRACE']);

/**
 * Whether a route belongs in the OpenAPI document: the JSON API under /api/v1 only. Catch-alls,
 * /healthz, /readyz, /metrics and the git smart-HTTP endpoints under /git (spoken by git, not JSON) stay out.
 */
function documented(route: RouteOptions): boolean {
  const methods = [route.method].flat();
  return route.url.startsWith('/api/v1/') && !route.url.includes('*') && methods.every((m) => OPENAPI_METHODS.has(m));
}

/**
 * Rewrites TypeBox's numeric `exclusiveMinimum`/`exclusiveMaximum` (JSON Schema 2019) into the
 * boolean form OpenAPI 3.0 schemas take, in place.
 */
function toOpenApi30Bounds(node: unknown): void {
  if (!node || typeof node !== 'object') return;
  const o = node as Record<string, unknown>;
  for (const [exclusive, bound, stricter] of [
    ['exclusiveMinimum', 'minimum', (a: number, b: number) => a >= b],
    ['exclusiveMaximum', 'maximum', (a: number, b: number) => a <= b],
  ] as const) {
    const limit = o[exclusive];
    if (typeof limit !== 'number') continue;
    const inclusive = o[bound];
    if (typeof inclusive === 'number' && !stricter(limit, inclusive)) delete o[exclusive];
    else Object.assign(o, { [bound]: limit, [exclusive]: true });
  }
  Object.values(o).forEach(toOpenApi30Bounds);
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

/** Builds the API. Call `ready()` (or `listen`) before use. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as unknown as FastifyBaseLogger,
    bodyLimit: deps.bodyLimit,
    // Event followers and terminals hold connections open; shutting down must not wait for them.
    forceCloseConnections: true,
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => Math.random().toString(36).slice(2, 12),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    // Same routes over TLS; the instance's type stays that of a plain server (only listen differs).
    ...((deps.https ? { https: deps.https } : {}) as object),
  });
  app.setErrorHandler(errorHandler);
  // The API speaks JSON only; other bodies get a clear 415 instead of being parsed as strings.
  app.removeContentTypeParser(['text/plain']);
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ error: { code: 'not_found', message: `No route ${req.method} ${req.url.split('?')[0]}.` } });
  });
  app.decorateRequest('principal', null as unknown as Principal);
  // The route table at debug level: what the server really serves, for operators chasing a 404 and
  // for the test that holds the OpenAPI document to it.
  const routes: string[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push(`${method} ${route.url}`);
  });
  app.addHook('onReady', async () => deps.logger.debug({ routes }, 'routes registered'));
  // An error about a workspace can quote its output: the workspace's secrets are replaced before the answer leaves.
  app.addHook('onSend', async (req, reply, payload) =>
    reply.statusCode >= 400 && typeof payload === 'string' ? redactErrorBody(deps, req.principal, (req.params as { ref?: string } | undefined)?.ref, payload) : payload,
  );
  // A body refused for its size is read to its end (bounded) before the 413 goes out: closing on
  // unread data resets the connection, and the client would see EPIPE instead of the answer.
  app.addHook('onSend', async (req, reply, payload) => {
    if (reply.statusCode === 413 && !req.raw.complete) await drainRequest(req.raw, 64 * 1024 * 1024, 10_000);
    return payload;
  });
  app.addHook('onResponse', async (req, reply) => {
    if (!['/healthz', '/readyz', '/metrics'].includes(req.url)) req.log.info({ method: req.method, url: req.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Berth API', version: deps.version, description: 'Control plane for persistent workspaces.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: ({ schema, url, route }) => ({ schema: documented(route) ? schema : { ...schema, hide: true }, url }),
    transformObject: (doc) => {
      const out = 'openapiObject' in doc ? doc.openapiObject : doc.swaggerObject;
      toOpenApi30Bounds(out);
      return out;
    },
  });
  await app.register(websocket, { options: { maxPayload: 1024 * 1024 } });

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  if (deps.health) await healthRoutes(app, deps.auth, deps.health);
  const sessions = deps.web ? await webUi(app, deps.auth, deps.web) : undefined;

  await app.register(
    async (api) => {
      api.addHook('onRequest', async (req) => {
        req.principal = await (sessions ? sessions.authenticate(req) : deps.auth.authenticate(req.headers.authorization));
      });
      api.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
      await authRoutes(api, deps);
      await projectRoutes(api, deps);
      await memberRoutes(api, deps);
      await provisionerRoutes(api, deps);
      await workspaceRoutes(api, deps);
      await watchRoutes(api, deps);
      if (deps.policy) await policyRoutes(api, { auth: deps.auth, policy: deps.policy, projects: deps.projects });
      if (deps.git) await gitRoutes(api, deps, deps.git);
      if (deps.agents) await agentRoutes(api, { auth: deps.auth, agents: deps.agents });
      if (deps.admin) await adminRoutes(api, { auth: deps.auth, ...deps.admin });
      if (deps.tasks) await taskRoutes(api, deps.tasks);
      api.all('/*', { schema: { hide: true } }, async (req) => {
        throw new NotFoundError(`No route ${req.method} ${req.url.split('?')[0]}.`);
      });
    },
    { prefix: '/api/v1' },
  );
  await mcpRoutes(app, deps, deps.publicUrl ?? (() => ''));
  const agents = deps.agents;
  if (agents) await app.register(async (scope) => agentEnrollRoute(scope, { agents }), { prefix: '/api/v1' });
  const git = deps.git;
  if (git) await app.register(async (scope) => gitHttpRoutes(scope, { auth: deps.auth, gateway: git.gateway, ...(deps.health ? { metrics: deps.health.metrics } : {}) }), { prefix: '/git' });
  return app;
}

/** Reads and discards what is left of a request body, up to maxBytes or ms, whichever comes first. */
function drainRequest(raw: NodeJS.ReadableStream & { complete: boolean }, maxBytes: number, ms: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const done = () => {
      clearTimeout(timer);
      raw.removeListener('data', onData);
      raw.removeListener('end', done);
      raw.removeListener('error', done);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > maxBytes) done();
    };
    const timer = setTimeout(done, ms);
    raw.on('data', onData);
    raw.once('end', done);
    raw.once('error', done);
    raw.resume();
  });
}
