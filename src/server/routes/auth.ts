/** Routes for the caller's identity, tokens and users. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { CreateTokenSchema, CreateUserSchema, ErrorBodySchema, MeSchema, NewTokenSchema, NewUserSchema, TokenSchema, UserSchema } from '../../sdk/wire.ts';
import type { AppDeps } from '../app.ts';
import { userToWire } from '../auth.ts';

const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema, 404: ErrorBodySchema, 409: ErrorBodySchema };

/** Registers /me, /tokens and /users. */
export async function authRoutes(api: FastifyInstance, deps: AppDeps): Promise<void> {
  api.get('/me', { schema: { tags: ['auth'], summary: 'Who the token belongs to', response: { 200: MeSchema, ...errors } } }, async (req) => ({
    user: userToWire(req.principal.user),
    tokenKind: req.principal.kind,
    workspaceId: req.principal.workspaceId,
  }));

  api.post<{ Body: { name: string; ttl?: string } }>(
    '/tokens',
    { schema: { tags: ['auth'], summary: 'Create an API token for yourself (shown once)', body: CreateTokenSchema, response: { 201: NewTokenSchema, ...errors } } },
    async (req, reply) => {
      deps.auth.requireUser(req.principal);
      const t = await deps.auth.createUserToken(req.principal.user.id, req.body.name, req.body.ttl);
      return reply.status(201).send(t);
    },
  );

  api.get('/tokens', { schema: { tags: ['auth'], summary: 'Your API tokens (never the token values)', response: { 200: Type.Array(TokenSchema), ...errors } } }, async (req) =>
    deps.auth.listTokens(req.principal),
  );

  api.delete<{ Params: { id: string } }>(
    '/tokens/:id',
    { schema: { tags: ['auth'], summary: 'Revoke a token', params: Type.Object({ id: Type.String({ pattern: '^tok_[a-f0-9]{20}$' }) }), response: { 204: Type.Null(), ...errors } } },
    async (req, reply) => {
      await deps.auth.revokeToken(req.principal, req.params.id);
      return reply.status(204).send();
    },
  );

  api.post<{ Body: { name: string; role?: 'admin' | 'user' } }>(
    '/users',
    { schema: { tags: ['users'], summary: 'Create a user and their first token (admin only)', body: CreateUserSchema, response: { 201: NewUserSchema, ...errors } } },
    async (req, reply) => {
      deps.auth.requireAdmin(req.principal);
      return reply.status(201).send(await deps.auth.createUser(req.body.name, req.body.role ?? 'user'));
    },
  );

  api.get('/users', { schema: { tags: ['users'], summary: 'List users (admin only)', response: { 200: Type.Array(UserSchema), ...errors } } }, async (req) => {
    deps.auth.requireAdmin(req.principal);
    return deps.auth.listUsers();
  });
}
