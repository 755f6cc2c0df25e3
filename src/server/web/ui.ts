/** The browser UI: cookies, the session routes and the built app at `/`. Registered by buildApp when the server is given a secret box. */
import cookie from '@fastify/cookie';
import type { FastifyInstance } from 'fastify';
import type { AuthService } from '../auth.ts';
import type { SecretBox } from '../secrets.ts';
import { sessionRoutes } from './routes.ts';
import { SessionService } from './session.ts';
import { staticRoutes } from './static.ts';

/** What the UI needs from the server. */
export interface WebUiDeps {
  /** Seals session cookies (the server's secret key). */
  box: SecretBox;
  /** Where the built UI is; default dist/web of this checkout. */
  dir?: string;
  /** How long a browser session lasts; default 12 hours (never longer than its token). */
  sessionTtlMs?: number;
}

/** Registers cookies, /api/v1/session and the UI; returns the sessions, which authenticate API requests. */
export async function webUi(app: FastifyInstance, auth: AuthService, deps: WebUiDeps): Promise<SessionService> {
  await app.register(cookie);
  const sessions = new SessionService(auth, deps.box, deps.sessionTtlMs);
  await app.register(async (scope) => sessionRoutes(scope, sessions), { prefix: '/api/v1' });
  await staticRoutes(app, deps.dir);
  return sessions;
}
