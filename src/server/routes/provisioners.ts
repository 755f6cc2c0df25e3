/** Routes for provisioners. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ErrorBodySchema, ProvisionerInfoSchema } from '../../sdk/wire.ts';
import type { AppDeps } from '../app.ts';

const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema, 404: ErrorBodySchema, 409: ErrorBodySchema };

/** Registers /provisioners. */
export async function provisionerRoutes(api: FastifyInstance, deps: AppDeps): Promise<void> {
  api.get('/provisioners', { schema: { tags: ['provisioners'], summary: 'List provisioners', response: { 200: Type.Array(ProvisionerInfoSchema), ...errors } } }, async (req) => {
    deps.auth.requireUser(req.principal);
    return deps.registry.all().map((p) => ({ name: p.name, type: p.type, default: p.name === deps.defaultProvisioner }));
  });
}
