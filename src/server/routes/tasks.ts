/** Routes for tasks: run a command in N workspaces, follow it, read its output, delete it. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { RunTaskSchema, TaskEventSchema, TaskIdSchema, TaskLogSchema, TaskSchema, type RunTask, type TaskEvent } from '../../sdk/tasks.ts';
import { ErrorBodySchema } from '../../sdk/wire.ts';
import type { TaskService } from '../tasks/service.ts';

const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema, 404: ErrorBodySchema, 409: ErrorBodySchema };
const IdParams = Type.Object({ id: TaskIdSchema });
type Id = { Params: { id: string } };

/** Registers /tasks routes. */
export async function taskRoutes(api: FastifyInstance, tasks: TaskService): Promise<void> {
  api.post<{ Body: RunTask }>(
    '/tasks',
    {
      schema: {
        tags: ['tasks'],
        summary: 'Run a command in N new (or forked) workspaces, through a queue of `concurrency` runs; each run pushes branch task/<id>/<index>',
        description:
          'Each run gets BERTH_TASK_ID and BERTH_TASK_INDEX (0 to count-1). The command runs in the checkout, on branch task/<id>/<index>; what it leaves uncommitted is committed, then the branch is pushed through the gateway. Developer role on the project.',
        body: RunTaskSchema,
        response: { 202: TaskSchema, ...errors },
      },
    },
    async (req, reply) => reply.status(202).send(await tasks.create(req.principal, req.body)),
  );

  api.get('/tasks', { schema: { tags: ['tasks'], summary: 'List tasks: your own and those of projects you can read', response: { 200: Type.Array(TaskSchema), ...errors } } }, async (req) =>
    tasks.list(req.principal),
  );

  api.get<Id>('/tasks/:id', { schema: { tags: ['tasks'], summary: 'Show a task and each run: workspace, phase, step, exit code, duration, diff stat, branch, last line', params: IdParams, response: { 200: TaskSchema, ...errors } } }, async (req) =>
    tasks.get(req.principal, req.params.id),
  );

  api.get<Id & { Querystring: { index?: string } }>(
    '/tasks/:id/logs',
    {
      schema: {
        tags: ['tasks'],
        summary: 'The kept output (last 64 KiB) of every run, or of one with ?index=',
        params: IdParams,
        querystring: Type.Object({ index: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$', description: 'A run index' })) }, { additionalProperties: false }),
        response: { 200: Type.Array(TaskLogSchema), ...errors },
      },
    },
    async (req) => tasks.logs(req.principal, req.params.id, req.query.index === undefined ? undefined : Number(req.query.index)),
  );

  api.get<Id & { Querystring: { follow?: string } }>(
    '/tasks/:id/events',
    {
      schema: {
        tags: ['tasks'],
        summary: 'The task as events: the whole task first; with follow=true an NDJSON stream of each changed run until the finished task',
        params: IdParams,
        querystring: Type.Object({ follow: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])) }, { additionalProperties: false }),
        response: {
          200: {
            description: 'Without follow a JSON array holding the task; with follow=true an NDJSON stream (one event per line)',
            content: { 'application/json': { schema: Type.Array(TaskEventSchema) }, 'application/x-ndjson': { schema: TaskEventSchema } },
          },
          ...errors,
        },
      },
    },
    async (req, reply) => {
      if (req.query.follow !== 'true') return [{ kind: 'task', task: await tasks.get(req.principal, req.params.id) }];
      // Authorization and the first event come before the stream is opened, so a refusal is an ordinary error answer.
      const first: TaskEvent[] = [];
      const stream: { raw?: typeof reply.raw; ended?: boolean } = {};
      const send = (e: TaskEvent) => (stream.raw ? stream.raw.write(`${JSON.stringify(e)}\n`) : first.push(e));
      const end = () => {
        stream.ended = true;
        stream.raw?.end();
      };
      const unsubscribe = await tasks.follow(req.principal, req.params.id, send, end);
      reply.hijack();
      const raw = (stream.raw = reply.raw);
      raw.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
      for (const e of first) raw.write(`${JSON.stringify(e)}\n`);
      if (stream.ended) raw.end();
      req.raw.on('close', unsubscribe);
    },
  );

  api.delete<Id>(
    '/tasks/:id',
    { schema: { tags: ['tasks'], summary: "Stop a task's runs, delete its remaining workspaces and forget it (owner or admin)", params: IdParams, response: { 200: TaskSchema, ...errors } } },
    async (req) => tasks.delete(req.principal, req.params.id),
  );
}
