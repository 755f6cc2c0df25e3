/** The browser session routes: sign in with a token, read the session (and its CSRF value), sign out. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { UnauthorizedError } from '../../core/errors.ts';
import { SessionSchema, SignInSchema, type SessionInfo, type SignIn } from '../../sdk/web.ts';
import { ErrorBodySchema } from '../../sdk/wire.ts';
import { userToWire } from '../auth.ts';
import { SESSION_COOKIE, SessionService, assertSameOrigin, type Session } from './session.ts';

const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema };
const toWire = (s: Session): SessionInfo => ({ user: userToWire(s.principal.user), csrf: s.csrf, expiresAt: s.expiresAt.toISOString() });

/** Registers /session (under the /api/v1 prefix, outside the bearer-token hook: signing in is how a browser gets authenticated). */
export async function sessionRoutes(api: FastifyInstance, sessions: SessionService): Promise<void> {
  const current = async (cookie: string | undefined) => {
    if (!cookie) throw new UnauthorizedError('Not signed in; sign in with a user token.');
    return sessions.read(cookie);
  };
  api.post<{ Body: SignIn }>(
    '/session',
    {
      schema: {
        tags: ['session'],
        summary: 'Sign in a browser: exchanges a user token for an HttpOnly session cookie and returns the CSRF value',
        security: [],
        body: SignInSchema,
        response: { 201: SessionSchema, ...errors },
      },
    },
    async (req, reply) => {
      // Another site must not sign the browser in as someone else (login CSRF).
      assertSameOrigin(req);
      const { cookie, session } = await sessions.open(req.body.token.trim());
      SessionService.setCookie(req, reply, cookie, session.expiresAt);
      return reply.status(201).send(toWire(session));
    },
  );
  api.get(
    '/session',
    { schema: { tags: ['session'], summary: "The browser's session: who is signed in and the CSRF value", security: [], response: { 200: SessionSchema, ...errors } } },
    async (req) => toWire(await current(req.cookies[SESSION_COOKIE])),
  );
  api.delete(
    '/session',
    { schema: { tags: ['session'], summary: 'Sign out: ends the session and removes its cookie', security: [], response: { 204: Type.Null(), ...errors } } },
    async (req, reply) => {
      const cookie = req.cookies[SESSION_COOKIE];
      // Signing out twice, or with a session that already ended, still removes the cookie.
      const session = cookie ? await sessions.read(cookie).catch(() => undefined) : undefined;
      if (session) sessions.close(session);
      SessionService.clearCookie(req, reply);
      return reply.status(204).send();
    },
  );
}
