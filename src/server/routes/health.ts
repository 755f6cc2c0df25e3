/**
 * `/readyz` and `/metrics`, beside the liveness probe `/healthz`. Readiness asks the store and every
 * provisioner's `check()` with a short timeout and keeps the answer a few seconds, so a load balancer
 * probing every second does not become load on a Docker engine or a Kubernetes API.
 */
import type { FastifyInstance } from 'fastify';
import { ForbiddenError, errorMessage } from '../../core/errors.ts';
import type { Provisioner } from '../../provisioners/provisioner.ts';
import type { Store } from '../../store/store.ts';
import type { AuthService } from '../auth.ts';
import type { Metrics } from '../metrics.ts';

/** What the health routes need. */
export interface HealthDeps {
  store: Pick<Store, 'countWorkspacesByProvisioner'>;
  /** The registered provisioner instances, asked at each (uncached) readiness check. */
  provisioners: () => Provisioner[];
  metrics: Metrics;
  /** Serve /metrics without a token (`--metrics-public on`); otherwise an admin's user token is needed. */
  metricsPublic: boolean;
  /** How long one check may take (default 3 s) and how long an answer is kept (default 5 s). */
  checkTimeoutMs?: number;
  cacheMs?: number;
}

/** One readiness answer: ready, or the parts that are not with why. */
export interface Readiness {
  ready: boolean;
  checks: { name: string; ok: boolean; message?: string }[];
}

async function within(ms: number, what: string, fn: (signal: AbortSignal) => Promise<unknown>): Promise<void> {
  const signal = AbortSignal.timeout(ms);
  // A check that ignores its signal still gives up here.
  const timeout = new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(new Error(`${what} did not answer within ${ms / 1000}s`)), { once: true }));
  await Promise.race([fn(signal), timeout]);
}

/** Asks the store and every provisioner, in parallel. */
export async function checkReadiness(deps: HealthDeps): Promise<Readiness> {
  const ms = deps.checkTimeoutMs ?? 3000;
  const parts: [string, (s: AbortSignal) => Promise<unknown>][] = [
    ['store', () => deps.store.countWorkspacesByProvisioner()],
    ...deps.provisioners().map((p): [string, (s: AbortSignal) => Promise<unknown>] => [`provisioner ${p.name}`, async (s) => p.check?.(s)]),
  ];
  const checks = await Promise.all(
    parts.map(async ([name, fn]) => {
      try {
        await within(ms, name, fn);
        return { name, ok: true };
      } catch (err) {
        return { name, ok: false, message: errorMessage(err) };
      }
    }),
  );
  return { ready: checks.every((c) => c.ok), checks };
}

/** Registers /readyz and /metrics on the root scope (no /api/v1 prefix, as probes and scrapers expect). */
export async function healthRoutes(app: FastifyInstance, auth: AuthService, deps: HealthDeps): Promise<void> {
  const cacheMs = deps.cacheMs ?? 5000;
  let cached: { at: number; answer: Promise<Readiness> } | undefined;
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    if (!cached || Date.now() - cached.at > cacheMs) cached = { at: Date.now(), answer: checkReadiness(deps) };
    const r = await cached.answer;
    return reply.status(r.ready ? 200 : 503).send({ status: r.ready ? 'ready' : 'not ready', checks: r.checks });
  });
  app.get('/metrics', { schema: { hide: true } }, async (req, reply) => {
    if (!deps.metricsPublic) {
      const p = await auth.authenticate(req.headers.authorization);
      if (p.kind !== 'user' || p.user.role !== 'admin') throw new ForbiddenError('Only an admin token may read /metrics; start the server with --metrics-public on to let Prometheus scrape without one.');
    }
    const { contentType, body } = await deps.metrics.scrape();
    return reply.header('content-type', contentType).header('cache-control', 'no-store').send(body);
  });
}
