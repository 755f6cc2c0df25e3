/** Routes for provisioners: list (any user), add (admins). */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { InputError } from '../../core/errors.ts';
import { CreateProvisionerSchema, ErrorBodySchema, ProvisionerInfoSchema, type CreateProvisioner } from '../../sdk/wire.ts';
import type { AppDeps } from '../app.ts';

const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema, 404: ErrorBodySchema, 409: ErrorBodySchema };

/** Registers /provisioners. */
export async function provisionerRoutes(api: FastifyInstance, deps: AppDeps): Promise<void> {
  api.get('/provisioners', { schema: { tags: ['provisioners'], summary: 'List provisioners', response: { 200: Type.Array(ProvisionerInfoSchema), ...errors } } }, async (req) => {
    deps.auth.requireUser(req.principal);
    if (deps.provisioners) return deps.provisioners.list();
    return deps.registry.all().map((p) => ({ name: p.name, type: p.type, default: p.name === deps.registry.defaultName() }));
  });

  api.post<{ Body: CreateProvisioner }>(
    '/provisioners',
    {
      schema: {
        tags: ['provisioners'],
        summary: 'Add a provisioner (admin). Its backend is checked first; options are stored encrypted.',
        body: CreateProvisionerSchema,
        response: { 201: ProvisionerInfoSchema, ...errors },
      },
    },
    async (req, reply) => {
      deps.auth.requireAdmin(req.principal);
      if (!deps.provisioners) throw new InputError('This server cannot add provisioners at run time.');
      return reply.status(201).send(await deps.provisioners.add(req.body));
    },
  );
}
