/** Routes for project members (`/projects/{name}/members`) and removing users (`/users/{name}`). */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ErrorBodySchema, MemberSchema, NameSchema, SetMemberSchema } from '../../sdk/wire.ts';
import type { ProjectRole } from '../../store/schema.ts';
import type { AppDeps } from '../app.ts';

const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema, 404: ErrorBodySchema, 409: ErrorBodySchema };
const ProjectParams = Type.Object({ name: NameSchema });
const MemberParams = Type.Object({ name: NameSchema, user: NameSchema });
type Member = { Params: { name: string; user: string } };

/** Registers the member and user-removal routes (user tokens only). */
export async function memberRoutes(api: FastifyInstance, deps: AppDeps): Promise<void> {
  const members = deps.projects.members;
  const tags = ['projects'];

  api.get<{ Params: { name: string } }>(
    '/projects/:name/members',
    { schema: { tags, summary: "A project's members and their roles (anyone who may see the project)", params: ProjectParams, response: { 200: Type.Array(MemberSchema), ...errors } } },
    async (req) => {
      deps.auth.requireUser(req.principal);
      return members.list(req.principal, req.params.name);
    },
  );

  api.put<Member & { Body: { role: ProjectRole } }>(
    '/projects/:name/members/:user',
    {
      schema: {
        tags,
        summary: 'Add a member or change their role: viewer, developer or owner (project owners and admins; the last owner cannot be demoted)',
        params: MemberParams,
        body: SetMemberSchema,
        response: { 200: MemberSchema, ...errors },
      },
    },
    async (req) => {
      deps.auth.requireUser(req.principal);
      return members.set(req.principal, req.params.name, req.params.user, req.body.role);
    },
  );

  api.delete<Member>(
    '/projects/:name/members/:user',
    {
      schema: { tags, summary: 'Remove a member (project owners and admins; the last owner cannot be removed)', params: MemberParams, response: { 204: Type.Null(), ...errors } },
    },
    async (req, reply) => {
      deps.auth.requireUser(req.principal);
      await members.remove(req.principal, req.params.name, req.params.user);
      return reply.status(204).send();
    },
  );

  api.delete<{ Params: { name: string } }>(
    '/users/:name',
    {
      schema: {
        tags: ['users'],
        summary: 'Remove a user and revoke their tokens (admin only); refused while they own workspaces, are the only owner of a project, or are the last admin',
        params: Type.Object({ name: NameSchema }),
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (req, reply) => {
      deps.auth.requireAdmin(req.principal);
      await members.deleteUser(req.principal, req.params.name);
      return reply.status(204).send();
    },
  );
}
