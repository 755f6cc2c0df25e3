/** Admin maintenance routes: quarantined orphans, their collection (gc) and online database backups. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { GcReportSchema, GcRequestSchema, OrphanSchema, type GcRequest } from '../../sdk/admin.ts';
import { ErrorBodySchema } from '../../sdk/wire.ts';
import type { Store } from '../../store/store.ts';
import type { AuthService } from '../auth.ts';
import type { Orphans } from '../orphans.ts';

const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema, 409: ErrorBodySchema };

/** What the admin routes need. */
export interface AdminRouteDeps {
  auth: AuthService;
  orphans: Orphans;
  store: Pick<Store, 'backup'>;
  /** Where a backup is written before it is streamed (the data directory: same disk as the database, not a small tmpfs). */
  scratchDir: string;
}

/** Registers /admin/* (inside the authenticated API scope). */
export async function adminRoutes(api: FastifyInstance, deps: AdminRouteDeps): Promise<void> {
  api.get(
    '/admin/orphans',
    { schema: { tags: ['admin'], summary: 'List quarantined orphans (admin): resources without a workspace row, stopped and kept until the grace period ends or gc runs', response: { 200: Type.Array(OrphanSchema), ...errors } } },
    async (req) => {
      deps.auth.requireAdmin(req.principal);
      return deps.orphans.list();
    },
  );

  api.post<{ Body: GcRequest }>(
    '/admin/gc',
    {
      schema: {
        tags: ['admin'],
        summary: 'Look for orphans, then remove every quarantined one: runtime and storage (admin); with dryRun, list what would be removed',
        body: GcRequestSchema,
        response: { 200: GcReportSchema, ...errors },
      },
    },
    async (req) => {
      deps.auth.requireAdmin(req.principal);
      return deps.orphans.gc({ dryRun: req.body?.dryRun === true });
    },
  );

  api.post(
    '/admin/backup',
    {
      schema: {
        tags: ['admin'],
        summary: "A consistent copy of the server's SQLite database, taken while it runs (admin); refused on PostgreSQL (use pg_dump)",
        response: { 200: Type.String({ format: 'binary', description: 'The SQLite database file' }), ...errors },
      },
    },
    async (req, reply) => {
      deps.auth.requireAdmin(req.principal);
      const file = path.join(deps.scratchDir, `.backup-${crypto.randomBytes(6).toString('hex')}.db`);
      try {
        await deps.store.backup(file);
      } catch (err) {
        fs.rmSync(file, { force: true });
        throw err;
      }
      const stream = fs.createReadStream(file);
      // Unlinked once opened: the copy exists only for this response, whatever becomes of the connection.
      stream.once('open', () => fs.rmSync(file, { force: true }));
      stream.once('error', () => fs.rmSync(file, { force: true }));
      const size = fs.statSync(file).size;
      return reply
        .type('application/vnd.sqlite3')
        .header('content-length', size)
        .header('content-disposition', `attachment; filename="berth-${new Date().toISOString().replace(/[:.]/g, '-')}.db"`)
        .send(stream);
    },
  );
}
