/** Routes for projects. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { CreateProjectSchema, ErrorBodySchema, NameSchema, ProjectSchema, type CreateProject } from '../../sdk/wire.ts';
import type { AppDeps } from '../app.ts';
import { projectToWire } from '../projects.ts';

const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema, 404: ErrorBodySchema, 409: ErrorBodySchema };

/** Registers /projects. */
export async function projectRoutes(api: FastifyInstance, deps: AppDeps): Promise<void> {
  api.post<{ Body: CreateProject }>(
    '/projects',
    { schema: { tags: ['projects'], summary: 'Add a project (a git repository)', body: CreateProjectSchema, response: { 201: ProjectSchema, ...errors } } },
    async (req, reply) => {
      deps.auth.requireUser(req.principal);
      return reply.status(201).send(await deps.projects.create(req.principal, req.body));
    },
  );

  api.get('/projects', { schema: { tags: ['projects'], summary: 'List projects', response: { 200: Type.Array(ProjectSchema), ...errors } } }, async (req) => {
    deps.auth.requireUser(req.principal);
    return deps.projects.list();
  });

  api.get<{ Params: { name: string } }>(
    '/projects/:name',
    { schema: { tags: ['projects'], summary: 'Show a project', params: Type.Object({ name: NameSchema }), response: { 200: ProjectSchema, ...errors } } },
    async (req) => {
      deps.auth.requireUser(req.principal);
      return projectToWire(await deps.projects.get(req.params.name));
    },
  );
}
