/**
 * GET /watch/workspaces: the caller's workspace list as a stream, for the dashboard. The first
 * NDJSON line is the list; then a line for each workspace whose phase, desired state, message or
 * ports change, and one for each deleted workspace. Changes are noticed through the event log
 * (every phase change and desired-state change is an event) and coalesced for a moment, so a
 * burst of provisioning output costs one read, not one per line.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { BerthError } from '../../core/errors.ts';
import { WatchMessageSchema, type WatchMessage } from '../../sdk/web.ts';
import { ErrorBodySchema, type Workspace } from '../../sdk/wire.ts';
import type { Principal } from '../auth.ts';
import type { EventLog } from '../events.ts';
import type { WorkspaceService } from '../workspaces.ts';

const COALESCE_MS = 100;
const HEARTBEAT_MS = 25_000;

/** What the watch route needs. */
export interface WatchDeps {
  workspaces: WorkspaceService;
  events: Pick<EventLog, 'subscribeAll'>;
}

/** The parts of a workspace the list shows; a change elsewhere (a new output line) sends nothing. */
const fingerprint = (w: Workspace) => JSON.stringify([w.phase, w.desired, w.message, w.ports, w.unreachableSince ?? null]);

/** Registers /watch/workspaces (not under /workspaces/, where it would shadow a workspace named "watch") inside the authenticated /api/v1 scope. */
export async function watchRoutes(api: FastifyInstance, deps: WatchDeps): Promise<void> {
  api.get<{ Querystring: { all?: string } }>(
    '/watch/workspaces',
    {
      schema: {
        tags: ['workspaces'],
        summary: 'The workspace list as a stream: the list, then each change of phase, desired state, message or ports, and each deletion',
        description:
          '`application/x-ndjson`: the first line is `{"type":"snapshot","workspaces":[…]}` (what GET /workspaces returns), then `{"type":"changed","workspace":{…}}` ' +
          'and `{"type":"deleted","id":"ws_…"}` as they happen. Empty lines are keep-alives. Admins: ?all=true for everyone\'s.',
        querystring: Type.Object({ all: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])) }, { additionalProperties: false }),
        response: {
          200: { description: 'An NDJSON stream of watch messages', content: { 'application/x-ndjson': { schema: WatchMessageSchema } } },
          401: ErrorBodySchema,
          403: ErrorBodySchema,
        },
      },
    },
    async (req, reply) => {
      const p = req.principal;
      const all = req.query.all === 'true';
      const sent = new Map<string, string>();
      const dirty = new Set<string>();
      let timer: NodeJS.Timeout | undefined;
      let snapshotDone = false;
      let ended = false;
      // Subscribed before the list is read, so a change in between is not lost.
      const unsubscribe = deps.events.subscribeAll((id) => {
        dirty.add(id);
        if (snapshotDone && !timer) timer = setTimeout(flush, COALESCE_MS);
      });
      let heartbeat: NodeJS.Timeout | undefined;
      const stop = () => {
        ended = true;
        unsubscribe();
        clearInterval(heartbeat);
        clearTimeout(timer);
      };
      const raw = reply.raw;
      req.raw.on('close', stop);
      const write = (m: WatchMessage) => !ended && raw.write(`${JSON.stringify(m)}\n`);
      const flush = () => {
        timer = undefined;
        const ids = [...dirty];
        dirty.clear();
        void Promise.all(ids.map((id) => visible(deps.workspaces, p, all, id)))
          .then((found) => {
            ids.forEach((id, i) => {
              const w = found[i];
              if (w === 'gone') {
                if (sent.delete(id)) write({ type: 'deleted', id });
              } else if (w && sent.get(id) !== fingerprint(w)) {
                sent.set(id, fingerprint(w));
                write({ type: 'changed', workspace: w });
              }
            });
          })
          .catch((err: unknown) => {
            req.log.warn({ err }, 'workspace watch stream failed');
            stop();
            raw.end();
          });
      };

      const list = await deps.workspaces.list(p, all);
      reply.hijack();
      raw.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
      for (const w of list) sent.set(w.id, fingerprint(w));
      write({ type: 'snapshot', workspaces: list });
      snapshotDone = true;
      if (!ended) heartbeat = setInterval(() => raw.write('\n'), HEARTBEAT_MS);
      if (dirty.size > 0) flush();
    },
  );
}

/** The workspace as the caller may see it in this list; `gone` when deleted, undefined when not theirs to see. */
async function visible(workspaces: WorkspaceService, p: Principal, all: boolean, id: string): Promise<Workspace | 'gone' | undefined> {
  if (!(await workspaces.exists(id))) return 'gone';
  try {
    const w = await workspaces.toWire(await workspaces.resolve(p, id));
    // Admins see everyone's only when they asked for all, as in GET /workspaces.
    return !all && p.kind === 'user' && w.owner !== p.user.name ? undefined : w;
  } catch (err) {
    if (err instanceof BerthError && (err.code === 'not_found' || err.code === 'forbidden')) return undefined;
    throw err;
  }
}
