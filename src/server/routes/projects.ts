/** Routes for projects. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { CreateProjectSchema, ErrorBodySchema, NameSchema, ProjectSchema, ProjectSyncSchema, UpdateProjectSchema, type CreateProject, type UpdateProject } from '../../sdk/wire.ts';
import type { AppDeps } from '../app.ts';

const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema, 404: ErrorBodySchema, 409: ErrorBodySchema, 502: ErrorBodySchema };

/** Registers /projects. */
export async function projectRoutes(api: FastifyInstance, deps: AppDeps): Promise<void> {
  api.post<{ Body: CreateProject }>(
    '/projects',
    {
      schema: {
        tags: ['projects'],
        summary: 'Add a project (a git repository); credentials are stored encrypted and never returned',
        body: CreateProjectSchema,
        response: { 201: ProjectSchema, ...errors },
      },
    },
    async (req, reply) => {
      deps.auth.requireUser(req.principal);
      return reply.status(201).send(await deps.projects.create(req.principal, req.body));
    },
  );

  api.get('/projects', { schema: { tags: ['projects'], summary: 'List the projects you are a member of (admins: all)', response: { 200: Type.Array(ProjectSchema), ...errors } } }, async (req) => {
    deps.auth.requireUser(req.principal);
    return deps.projects.list(req.principal);
  });

  api.get<{ Params: { name: string } }>(
    '/projects/:name',
    { schema: { tags: ['projects'], summary: 'Show a project', params: Type.Object({ name: NameSchema }), response: { 200: ProjectSchema, ...errors } } },
    async (req) => {
      deps.auth.requireUser(req.principal);
      return deps.projects.toWire(await deps.projects.find(req.principal, req.params.name, 'read'));
    },
  );

  api.patch<{ Params: { name: string }; Body: UpdateProject }>(
    '/projects/:name',
    {
      schema: {
        tags: ['projects'],
        summary: 'Change a project: URL, default branch, credentials (null removes them); project owner or admin',
        params: Type.Object({ name: NameSchema }),
        body: UpdateProjectSchema,
        response: { 200: ProjectSchema, ...errors },
      },
    },
    async (req) => {
      deps.auth.requireUser(req.principal);
      return deps.projects.update(req.principal, req.params.name, req.body);
    },
  );

  api.delete<{ Params: { name: string } }>(
    '/projects/:name',
    {
      schema: {
        tags: ['projects'],
        summary: 'Delete a project and its mirror (project owner or admin); refused while workspaces use it. The upstream repository is not touched.',
        params: Type.Object({ name: NameSchema }),
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (req, reply) => {
      deps.auth.requireUser(req.principal);
      await deps.projects.remove(req.principal, req.params.name);
      return reply.status(204).send();
    },
  );

  api.post<{ Params: { name: string } }>(
    '/projects/:name/sync',
    {
      schema: {
        tags: ['projects'],
        summary: "Fetch the upstream into the project's mirror now (developer or higher; 502 with git's message when the upstream fails)",
        params: Type.Object({ name: NameSchema }),
        response: { 200: ProjectSyncSchema, ...errors },
      },
    },
    async (req) => {
      deps.auth.requireUser(req.principal);
      const controller = new AbortController();
      req.raw.socket.once('close', () => controller.abort());
      return deps.projects.sync(req.principal, req.params.name, controller.signal);
    },
  );
}
