/** Routes for provisioners: list and types (any user); add, change and remove (admins). */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import {
  CreateProvisionerSchema,
  ErrorBodySchema,
  NameSchema,
  ProvisionerInfoSchema,
  ProvisionerTypeSchema,
  UpdateProvisionerSchema,
  type CreateProvisioner,
  type UpdateProvisioner,
} from '../../sdk/wire.ts';
import type { AppDeps } from '../app.ts';

const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema, 404: ErrorBodySchema, 409: ErrorBodySchema };
const params = Type.Object({ name: NameSchema });

/**
 * The create body as the OpenAPI document shows it: one variant per registered type, with that
 * type's options schema. The route validates the generic shape and the registry the options, so
 * that errors name the option in a sentence.
 */
function documentedCreateBody(deps: AppDeps) {
  return Type.Union(
    deps.registry.types().map((t) =>
      Type.Object(
        { ...CreateProvisionerSchema.properties, type: Type.Literal(t.type), options: Type.Optional(t.options) },
        { additionalProperties: false, title: `${t.type} provisioner`, description: t.summary },
      ),
    ),
  );
}

/** Registers /provisioners and /provisioner-types. */
export async function provisionerRoutes(api: FastifyInstance, deps: AppDeps): Promise<void> {
  const service = deps.provisioners;

  api.get('/provisioners', { schema: { tags: ['provisioners'], summary: 'List provisioners', response: { 200: Type.Array(ProvisionerInfoSchema), ...errors } } }, async (req) => {
    deps.auth.requireUser(req.principal);
    return service.list();
  });

  api.get(
    '/provisioner-types',
    { schema: { tags: ['provisioners'], summary: 'List the provisioner types this server has, with their options schema and capabilities', response: { 200: Type.Array(ProvisionerTypeSchema), ...errors } } },
    async (req) => {
      deps.auth.requireUser(req.principal);
      return service.types();
    },
  );

  api.post<{ Body: CreateProvisioner }>(
    '/provisioners',
    {
      schema: {
        tags: ['provisioners'],
        summary: 'Add a provisioner (admin). Its options are validated against its type and its backend is checked first; options are stored encrypted.',
        body: CreateProvisionerSchema,
        response: { 201: ProvisionerInfoSchema, ...errors },
      },
      config: { swaggerTransform: ({ schema, url }) => ({ url, schema: { ...schema, body: documentedCreateBody(deps) } }) },
    },
    async (req, reply) => {
      deps.auth.requireAdmin(req.principal);
      return reply.status(201).send(await service.add(req.body));
    },
  );

  api.patch<{ Params: { name: string }; Body: UpdateProvisioner }>(
    '/provisioners/:name',
    {
      schema: {
        tags: ['provisioners'],
        summary: 'Change a provisioner (admin): set options (merged onto the stored ones, null removes one; refused while workspaces use it) or make it the default',
        params,
        body: UpdateProvisionerSchema,
        response: { 200: ProvisionerInfoSchema, ...errors },
      },
    },
    async (req) => {
      deps.auth.requireAdmin(req.principal);
      return service.update(req.params.name, req.body);
    },
  );

  api.delete<{ Params: { name: string } }>(
    '/provisioners/:name',
    { schema: { tags: ['provisioners'], summary: 'Remove a provisioner (admin); refused while workspaces use it', params, response: { 204: Type.Null(), ...errors } } },
    async (req, reply) => {
      deps.auth.requireAdmin(req.principal);
      await service.remove(req.params.name);
      return reply.status(204).send();
    },
  );
}
