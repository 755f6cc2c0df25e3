/** Routes of the agent registry: add, list, revoke and remove (admins), and enrollment (the one-time token is the credential). */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { AgentSchema, CreateAgentSchema, EnrollAgentSchema, EnrolledAgentSchema, NewAgentSchema, type CreateAgent, type EnrollAgent } from '../../sdk/agents.ts';
import { ErrorBodySchema, NameSchema } from '../../sdk/wire.ts';
import type { AuthService } from '../auth.ts';
import type { AgentService } from '../agents.ts';

const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema, 404: ErrorBodySchema, 409: ErrorBodySchema };
const params = Type.Object({ name: NameSchema });

/** What the routes need. */
export interface AgentRouteDeps {
  auth: AuthService;
  agents: AgentService;
}

/** Registers /agents (inside the authenticated API scope). */
export async function agentRoutes(api: FastifyInstance, deps: AgentRouteDeps): Promise<void> {
  api.post<{ Body: CreateAgent }>(
    '/agents',
    {
      schema: {
        tags: ['agents'],
        summary: 'Add a remote host agent (admin): returns a one-time enrollment token, shown once, and the command to run on the host',
        body: CreateAgentSchema,
        response: { 201: NewAgentSchema, ...errors },
      },
    },
    async (req, reply) => {
      deps.auth.requireAdmin(req.principal);
      return reply.status(201).send(await deps.agents.add(req.body));
    },
  );

  api.get('/agents', { schema: { tags: ['agents'], summary: 'List agents (admin): pending, enrolled and revoked', response: { 200: Type.Array(AgentSchema), ...errors } } }, async (req) => {
    deps.auth.requireAdmin(req.principal);
    return deps.agents.listAll();
  });

  api.post<{ Params: { name: string } }>(
    '/agents/:name/revoke',
    { schema: { tags: ['agents'], summary: 'Revoke an agent (admin): the control plane stops using it at once and its credentials become useless', params, response: { 200: AgentSchema, ...errors } } },
    async (req) => {
      deps.auth.requireAdmin(req.principal);
      return deps.agents.revoke(req.params.name);
    },
  );

  api.delete<{ Params: { name: string } }>(
    '/agents/:name',
    { schema: { tags: ['agents'], summary: 'Remove an agent (admin); refused while workspaces are pinned to it', params, response: { 204: Type.Null(), ...errors } } },
    async (req, reply) => {
      deps.auth.requireAdmin(req.principal);
      await deps.agents.remove(req.params.name);
      return reply.status(204).send();
    },
  );
}

/** Registers POST /agents/enroll, outside the bearer-token hook: the agent host has only its enrollment token. */
export async function agentEnrollRoute(scope: FastifyInstance, deps: Pick<AgentRouteDeps, 'agents'>): Promise<void> {
  scope.post<{ Body: EnrollAgent }>(
    '/agents/enroll',
    {
      schema: {
        tags: ['agents'],
        summary: 'Enroll an agent host: send the CSR made there with the one-time token; returns its certificate, the CA and the client certificate to pin',
        security: [],
        body: EnrollAgentSchema,
        response: { 200: EnrolledAgentSchema, 400: ErrorBodySchema, 401: ErrorBodySchema },
      },
    },
    async (req) => deps.agents.enroll(req.body),
  );
}
