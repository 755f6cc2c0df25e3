/** Routes for quotas (users and projects) and the provisioners a project may use; admins change them. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ForbiddenError } from '../../core/errors.ts';
import { ProjectProvisionersSchema, QuotaInputSchema, QuotaSchema, SetProjectProvisionersSchema, type QuotaInput, type SetProjectProvisioners } from '../../sdk/policy.ts';
import { ErrorBodySchema, NameSchema } from '../../sdk/wire.ts';
import type { AuthService } from '../auth.ts';
import type { PolicyService } from '../policy.ts';
import type { ProjectService } from '../projects.ts';

const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema, 404: ErrorBodySchema };
const params = Type.Object({ name: NameSchema });

/** What the policy routes need. */
export interface PolicyRouteDeps {
  auth: AuthService;
  policy: PolicyService;
  /** To check that the caller may see a project (non-members get its 404). */
  projects: Pick<ProjectService, 'find'>;
}

/** Registers /users/{name}/quota, /projects/{name}/quota and /projects/{name}/provisioners. */
export async function policyRoutes(api: FastifyInstance, deps: PolicyRouteDeps): Promise<void> {
  const { auth, policy, projects } = deps;
  for (const scope of ['user', 'project'] as const) {
    api.get<{ Params: { name: string } }>(
      `/${scope}s/:name/quota`,
      { schema: { tags: ['policy'], summary: `Show a ${scope}'s quota and what its workspaces use${scope === 'user' ? ' (the user or an admin)' : ' (its members and admins)'}`, params, response: { 200: QuotaSchema, ...errors } } },
      async (req) => {
        auth.requireUser(req.principal);
        if (scope === 'user' && req.principal.user.role !== 'admin' && req.principal.user.name !== req.params.name) {
          throw new ForbiddenError("Only an admin can see another user's quota.");
        }
        if (scope === 'project') await projects.find(req.principal, req.params.name, 'read');
        return policy.getQuota(scope, req.params.name);
      },
    );
    api.put<{ Params: { name: string }; Body: QuotaInput }>(
      `/${scope}s/:name/quota`,
      {
        schema: {
          tags: ['policy'],
          summary: `Set a ${scope}'s quota (admin): workspaces, CPUs, memory and storage; a limit absent or null is lifted`,
          params,
          body: QuotaInputSchema,
          response: { 200: QuotaSchema, ...errors },
        },
      },
      async (req) => {
        auth.requireAdmin(req.principal);
        return policy.setQuota(scope, req.params.name, req.body);
      },
    );
  }

  api.get<{ Params: { name: string } }>(
    '/projects/:name/provisioners',
    { schema: { tags: ['policy'], summary: 'List the provisioners a project may use (empty: any); its members and admins', params, response: { 200: ProjectProvisionersSchema, ...errors } } },
    async (req) => {
      auth.requireUser(req.principal);
      await projects.find(req.principal, req.params.name, 'read');
      return policy.getProvisioners(req.params.name);
    },
  );
  api.put<{ Params: { name: string }; Body: SetProjectProvisioners }>(
    '/projects/:name/provisioners',
    {
      schema: {
        tags: ['policy'],
        summary: 'Set the provisioners a project may use (admin); an empty list allows any',
        params,
        body: SetProjectProvisionersSchema,
        response: { 200: ProjectProvisionersSchema, ...errors },
      },
    },
    async (req) => {
      auth.requireAdmin(req.principal);
      return policy.setProvisioners(req.params.name, req.body.provisioners);
    },
  );
}
