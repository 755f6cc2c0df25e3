/** Routes for git on a workspace: operations on its checkout (run inside it) and a streamed bundle of its project. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ConflictError } from '../../core/errors.ts';
import {
  ErrorBodySchema,
  GitCommitResultSchema,
  GitCommitSchema,
  GitDiffSchema,
  GitPathsSchema,
  GitStatusSchema,
  GitSyncOptionsSchema,
  GitSyncResultSchema,
  type GitCommit,
  type GitPaths,
  type GitSyncOptions,
  WorkspaceRefSchema,
} from '../../sdk/wire.ts';
import type { ProjectAction } from '../access.ts';
import type { AppDeps } from '../app.ts';
import type { GitGateway } from '../git/gateway.ts';
import type { GitTarget, WorkspaceGit } from '../git/ops.ts';

const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema, 404: ErrorBodySchema, 409: ErrorBodySchema, 502: ErrorBodySchema };
const RefParams = Type.Object({ ref: WorkspaceRefSchema });
type Ref = { Params: { ref: string } };

/** The git services the routes use. */
export interface GitRouteDeps {
  gateway: GitGateway;
  ops: WorkspaceGit;
}

/** Registers /workspaces/:ref/git/* and /workspaces/:ref/bundle (workspace or user token). */
export async function gitRoutes(api: FastifyInstance, deps: AppDeps, git: GitRouteDeps): Promise<void> {
  // The project's roles hold here too: a workspace whose owner lost their role keeps its files, not its reach.
  const target = async (req: FastifyRequest<Ref>, action: ProjectAction = 'read'): Promise<GitTarget> => {
    const row = await deps.workspaces.resolve(req.principal, req.params.ref);
    await deps.projects.access.check(req.principal, await deps.projects.get(row.project_id), action);
    if (row.phase !== 'running') throw new ConflictError(`Workspace "${row.name}" is ${row.phase}, not running; start it with: berth ws start ${row.name} --wait`);
    return { provisioner: deps.registry.get(row.provisioner), ctx: await deps.contexts.current(row) };
  };
  const tags = ['git'];

  api.get<Ref>('/workspaces/:ref/git/status', { schema: { tags, summary: 'Branch, ahead/behind and per-file state of the checkout', params: RefParams, response: { 200: GitStatusSchema, ...errors } } }, async (req) =>
    git.ops.status(await target(req)),
  );

  api.get<Ref & { Querystring: { path?: string | string[] } }>(
    '/workspaces/:ref/git/diff',
    {
      schema: {
        tags,
        summary: 'Staged and unstaged changes, per file',
        params: RefParams,
        querystring: Type.Object({ path: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { maxItems: 1000 })])) }, { additionalProperties: false }),
        response: { 200: GitDiffSchema, ...errors },
      },
    },
    async (req) => {
      const p = req.query.path;
      return git.ops.diff(await target(req), p === undefined ? [] : Array.isArray(p) ? p : [p]);
    },
  );

  for (const [verb, summary] of [
    ['stage', 'Stage files (git add)'],
    ['unstage', 'Unstage files, keeping the changes in the work tree'],
    ['discard', 'Throw away unstaged changes (untracked files named are deleted)'],
  ] as const) {
    api.post<Ref & { Body: GitPaths }>(`/workspaces/:ref/git/${verb}`, { schema: { tags, summary, params: RefParams, body: GitPathsSchema, response: { 200: GitStatusSchema, ...errors } } }, async (req) =>
      git.ops[verb](await target(req), req.body),
    );
  }

  api.post<Ref & { Body: GitCommit }>(
    '/workspaces/:ref/git/commit',
    { schema: { tags, summary: 'Commit staged changes (all: every tracked change); 409 when there is nothing to commit', params: RefParams, body: GitCommitSchema, response: { 201: GitCommitResultSchema, ...errors } } },
    async (req, reply) => reply.status(201).send(await git.ops.commit(await target(req), req.body)),
  );

  for (const verb of ['pull', 'push'] as const) {
    api.post<Ref & { Body: GitSyncOptions | undefined }>(
      `/workspaces/:ref/git/${verb}`,
      {
        schema: {
          tags,
          summary: verb === 'pull' ? 'Pull through the gateway; 409 on merge conflicts' : "Push through the gateway to the upstream; 409 with git's message when rejected",
          params: RefParams,
          body: Type.Optional(GitSyncOptionsSchema),
          response: { 200: GitSyncResultSchema, ...errors },
        },
      },
      async (req) => git.ops[verb](await target(req, verb === 'push' ? 'push' : 'clone'), req.body ?? {}),
    );
  }

  api.get<Ref & { Querystring: { ref?: string } }>(
    '/workspaces/:ref/bundle',
    {
      schema: {
        tags,
        summary: "A git bundle of the workspace's project (the given branch or tag, else the workspace's ref, else the default branch), streamed",
        params: RefParams,
        querystring: Type.Object({ ref: Type.Optional(Type.String({ minLength: 1, maxLength: 255, pattern: '^[^\\s\\x00-\\x1f\\x7f~^:?*\\[\\\\]+$' })) }, { additionalProperties: false }),
        response: {
          200: { description: 'The bundle (`git clone <file>` reads it), streamed', content: { 'application/x-git-bundle': { schema: { type: 'string', format: 'binary' } } } },
          ...errors,
        },
      },
    },
    async (req, reply) => {
      const row = await deps.workspaces.resolve(req.principal, req.params.ref);
      const projectRow = await deps.projects.get(row.project_id);
      // Checked on the row, so a refusal names the project rather than its id.
      await deps.projects.access.check(req.principal, projectRow, 'clone');
      const project = projectRow.name;
      const controller = new AbortController();
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) controller.abort();
      });
      const stream = await git.gateway.bundle(project, req.query.ref ?? row.ref ?? undefined, controller.signal);
      return reply
        .header('content-type', 'application/x-git-bundle')
        .header('content-disposition', `attachment; filename="${project}.bundle"`)
        .header('cache-control', 'no-store')
        .send(stream);
    },
  );
}
