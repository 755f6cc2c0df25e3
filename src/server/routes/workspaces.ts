/** Routes for workspaces: lifecycle, events and the exec/terminal WebSocket. */
import type { SwaggerTransform } from '@fastify/swagger';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ConflictError, InputError } from '../../core/errors.ts';
import { CreateWorkspaceSchema, ErrorBodySchema, EventSchema, EXEC_PROTOCOL, ForkWorkspaceSchema, SpecPatchSchema, WorkspaceSchema, type CreateWorkspace, type ForkWorkspace, type SpecPatch, WorkspaceRefSchema } from '../../sdk/wire.ts';
import { EventPageSchema } from '../../sdk/events.ts';
import type { EventRow } from '../../store/store.ts';
import type { AppDeps } from '../app.ts';
import { parseExecStart, TerminalService, type EarlyMessages } from '../terminals.ts';

const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema, 404: ErrorBodySchema, 409: ErrorBodySchema };
const RefParams = Type.Object({ ref: WorkspaceRefSchema });
type Ref = { Params: { ref: string } };

/**
 * The exec route's OpenAPI entry. @fastify/websocket hides WebSocket routes; this one is part of the
 * API. Its upgrade headers and 101 are added for the document only: the WebSocket server checks
 * the upgrade, and a validation schema must not turn away clients it accepts.
 */
const execDocs: SwaggerTransform = ({ schema, url }) => ({
  url,
  schema: {
    ...schema,
    hide: false,
    headers: Type.Object({
      Upgrade: Type.Literal('websocket'),
      'Sec-WebSocket-Protocol': Type.Literal(EXEC_PROTOCOL, { description: 'The exec protocol version; the only one this server speaks.' }),
    }),
    response: {
      101: Type.Null({
        description: `Switching Protocols: the connection is now a WebSocket speaking ${EXEC_PROTOCOL}`,
        headers: { 'Sec-WebSocket-Protocol': { type: 'string', enum: [EXEC_PROTOCOL], description: 'The protocol the server chose.' } },
      }),
      400: ErrorBodySchema,
      401: ErrorBodySchema,
      404: Type.Null({ description: 'Not a WebSocket upgrade request' }),
    },
  },
});

/** Registers /workspaces routes. */
export async function workspaceRoutes(api: FastifyInstance, deps: AppDeps): Promise<void> {
  api.post<{ Body: CreateWorkspace }>(
    '/workspaces',
    { schema: { tags: ['workspaces'], summary: 'Create a workspace (provisioned in the background)', body: CreateWorkspaceSchema, response: { 201: WorkspaceSchema, ...errors } } },
    async (req, reply) => reply.status(201).send(await deps.workspaces.create(req.principal, req.body)),
  );

  api.get<{ Querystring: { all?: string } }>(
    '/workspaces',
    {
      schema: {
        tags: ['workspaces'],
        summary: "List your workspaces (admins: ?all=true for everyone's)",
        querystring: Type.Object({ all: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])) }, { additionalProperties: false }),
        response: { 200: Type.Array(WorkspaceSchema), ...errors },
      },
    },
    async (req) => deps.workspaces.list(req.principal, req.query.all === 'true'),
  );

  api.get<Ref>('/workspaces/:ref', { schema: { tags: ['workspaces'], summary: 'Show a workspace', params: RefParams, response: { 200: WorkspaceSchema, ...errors } } }, async (req) =>
    deps.workspaces.toWire(await deps.workspaces.resolve(req.principal, req.params.ref)),
  );

  api.patch<Ref & { Body: SpecPatch }>(
    '/workspaces/:ref',
    {
      schema: {
        tags: ['workspaces'],
        summary: "Change a workspace's spec (image, resources, env, files); a running workspace is provisioned again on the same storage",
        params: RefParams,
        body: SpecPatchSchema,
        response: { 200: WorkspaceSchema, ...errors },
      },
    },
    async (req) => deps.workspaces.update(req.principal, req.params.ref, req.body),
  );

  for (const [verb, desired] of [['start', 'running'], ['stop', 'stopped']] as const) {
    api.post<Ref>(
      `/workspaces/:ref/${verb}`,
      { schema: { tags: ['workspaces'], summary: `${verb === 'start' ? 'Start' : 'Stop'} a workspace`, params: RefParams, response: { 202: WorkspaceSchema, ...errors } } },
      async (req, reply) => reply.status(202).send(await deps.workspaces.setDesired(req.principal, req.params.ref, desired)),
    );
  }

  api.post<Ref & { Body: ForkWorkspace }>(
    '/workspaces/:ref/fork',
    {
      schema: {
        tags: ['workspaces'],
        summary: "Fork a workspace: new workspaces starting from a copy of its files (uncommitted changes included), each on its own branch, with their own token, env and ports",
        description: 'The source keeps running. The copy is taken when each fork starts provisioning (a crash-consistent copy of the files at that moment). All forks or none are created.',
        params: RefParams,
        body: ForkWorkspaceSchema,
        response: { 201: Type.Array(WorkspaceSchema), ...errors },
      },
    },
    async (req, reply) => reply.status(201).send(await deps.workspaces.fork(req.principal, req.params.ref, req.body)),
  );

  api.delete<Ref>(
    '/workspaces/:ref',
    { schema: { tags: ['workspaces'], summary: 'Delete a workspace and its storage', params: RefParams, response: { 202: WorkspaceSchema, ...errors } } },
    async (req, reply) => reply.status(202).send(await deps.workspaces.setDesired(req.principal, req.params.ref, 'deleted')),
  );

  api.get<Ref & { Querystring: { after?: string; before?: string; limit?: string; follow?: string; tail?: string } }>(
    '/workspaces/:ref/events',
    {
      schema: {
        tags: ['workspaces'],
        summary: 'Event log (phase changes, provisioning output); with follow=true a stream of them until the workspace is deleted',
        description:
          'Without `follow`: the events after `after` (or the newest `tail`) as one JSON array. With `follow=true`: `application/x-ndjson`, ' +
          'one event JSON per line, first those after `after` then each new one as it happens; the stream ends when the workspace is deleted. ' +
          '`tail` is ignored when following. With `limit` (and `after`, `before` or neither for the newest): one page, an object with the events, ' +
          'cursors `next` (pass as `after`) and `prev` (pass as `before`), and how many events the retention policy removed (`dropped`, `truncated`).',
        params: RefParams,
        querystring: Type.Object(
          {
            after: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
            tail: Type.Optional(Type.String({ pattern: '^[0-9]{1,5}$', description: 'Only the newest N events' })),
            before: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$', description: 'With limit: the page of events just older than this id' })),
            limit: Type.Optional(Type.String({ pattern: '^([1-9][0-9]{0,3}|10000)$', description: 'Page size (1-10000); the answer becomes a page object' })),
            follow: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])) },
          { additionalProperties: false },
        ),
        response: {
          200: {
            description: 'The events: a JSON array, or with follow=true an NDJSON stream (one event per line)',
            content: { 'application/json': { schema: Type.Union([Type.Array(EventSchema), EventPageSchema]) }, 'application/x-ndjson': { schema: EventSchema } },
          },
          ...errors,
        },
      },
    },
    async (req, reply) => {
      const row = await deps.workspaces.resolve(req.principal, req.params.ref);
      let after = Number(req.query.after ?? 0);
      const toWire = (e: EventRow) => ({ id: e.id, ts: e.ts, kind: e.kind, message: e.message });
      if ((req.query.limit !== undefined || req.query.before !== undefined) && req.query.follow !== 'true') {
        const q = { limit: Number(req.query.limit ?? 1000), ...(req.query.after !== undefined ? { after } : {}), ...(req.query.before !== undefined ? { before: Number(req.query.before) } : {}) };
        return deps.events.page(row.id, q);
      }
      if (req.query.tail !== undefined && req.query.follow !== 'true') return (await deps.events.tail(row.id, Number(req.query.tail))).map(toWire);
      if (req.query.follow !== 'true') return (await deps.events.list(row.id, after, 10_000)).map(toWire);

      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
      // Live events that arrive while the backlog is read; written after it, skipping those it held.
      const queue: EventRow[] = [];
      let backlogDone = false;
      const write = (e: EventRow) => {
        if (e.id <= after) return;
        after = e.id;
        raw.write(`${JSON.stringify(toWire(e))}\n`);
      };
      const unsubscribe = deps.events.subscribe(
        row.id,
        (e) => (backlogDone ? write(e) : queue.push(e)),
        () => {
          unsubscribe();
          raw.end();
        },
      );
      req.raw.on('close', unsubscribe);
      for (;;) {
        const batch = await deps.events.list(row.id, after, 1000);
        batch.forEach(write);
        if (batch.length < 1000) break;
      }
      backlogDone = true;
      queue.forEach(write);
      if (!(await deps.workspaces.exists(row.id))) {
        unsubscribe();
        raw.end();
      }
    },
  );

  api.get<Ref>(
    '/workspaces/:ref/exec',
    {
      websocket: true,
      config: { swaggerTransform: execDocs },
      schema: {
        tags: ['workspaces'],
        summary: `Run a command or a terminal in a workspace (WebSocket, protocol ${EXEC_PROTOCOL})`,
        description: [
          `Upgrades to a WebSocket; ask for the sub-protocol \`${EXEC_PROTOCOL}\` in \`Sec-WebSocket-Protocol\`.`,
          'The first message is a JSON text frame: `{"cmd":[…],"tty":bool,"cols":n,"rows":n,"env":{…}}` starts a process (an empty `cmd` runs the',
          'shell of the workspace, which must be running), `{"session":"term_…"}` re-attaches to a detached terminal session.',
          'Then binary frames carry one channel byte and the data: 0 stdin (client to server), 1 stdout, 2 stderr (server to client).',
          'Text frames carry JSON control messages: from the client `{"type":"resize","cols","rows"}`, `{"type":"eof"}`, `{"type":"signal","signal"}`;',
          'from the server `{"type":"session","id"}` (TTY sessions), `{"type":"exit","code","signal"}`, `{"type":"error","code","message"}`.',
          'Errors after the upgrade (unknown workspace, not running, no first message within 10 s) arrive as an `error` message, then close code 1008.',
          'A non-TTY exec ends with its connection; a TTY session outlives a disconnect and replays its buffered output on re-attach.',
        ].join(' '),
        params: RefParams,
      },
    },
    (socket, req) => {
      let started = false;
      const early: EarlyMessages = { queue: [], handedOver: false };
      const buffer = (data: Buffer, isBinary: boolean) => {
        if (started && !early.handedOver) early.queue.push([data, isBinary]);
      };
      socket.on('message', buffer);
      socket.once('message', (data: Buffer) => {
        started = true;
        void (async () => {
          const start = parseExecStart(data.toString());
          const row = await deps.workspaces.resolve(req.principal, req.params.ref);
          if (start.session) {
            deps.terminals.attach(socket, row.id, start.session, early);
            return;
          }
          if (row.phase !== 'running') throw new ConflictError(`Workspace "${row.name}" is ${row.phase}, not running; start it with: berth ws start ${row.name} --wait`);
          const provisioner = deps.registry.get(row.provisioner);
          const ctx = await deps.contexts.current(row);
          await deps.terminals.start(socket, provisioner, ctx, start, early);
          // Recorded once the command runs, in the background: before any output reaches the client, so a read after it sees it.
          void deps.activity?.command(row.id, start.cmd);
        })().catch((err) => TerminalService.reject(socket, err));
      });
      const t = setTimeout(() => {
        if (!started) TerminalService.reject(socket, new InputError('No exec request received within 10 seconds.'));
      }, 10_000);
      t.unref();
    },
  );
}
