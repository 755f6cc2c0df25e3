/** One bounded batch of event retention, in SQL that SQLite and PostgreSQL both run. */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from './schema.ts';

/**
 * Deletes up to `policy.limit` of a workspace's oldest events that are beyond the newest
 * `policy.keep` or older than `policy.olderThan`, sparing its newest phase event (what `ws logs`
 * ends with); adds them to the workspace's dropped count. Returns how many were deleted.
 */
export async function pruneEventBatch(db: Kysely<Database> | Transaction<Database>, workspaceId: string, policy: { keep: number; olderThan: string; limit: number }, at: string): Promise<number> {
  const run = async (tx: Kysely<Database> | Transaction<Database>): Promise<number> => {
    const beyond = await tx.selectFrom('events').select('id').where('workspace_id', '=', workspaceId).orderBy('id', 'desc').limit(1).offset(policy.keep).executeTakeFirst();
    const phase = await tx
      .selectFrom('events')
      .select((eb) => eb.fn.max('id').as('id'))
      .where('workspace_id', '=', workspaceId)
      .where('kind', '=', 'phase')
      .executeTakeFirst();
    const cutoff = Number(beyond?.id ?? 0);
    const spare = Number(phase?.id ?? 0);
    const victims = await tx
      .selectFrom('events')
      .select('id')
      .where('workspace_id', '=', workspaceId)
      .where((eb) => eb.or([eb('id', '<=', cutoff), eb('ts', '<', policy.olderThan)]))
      .where('id', '<>', spare)
      .orderBy('id')
      .limit(policy.limit)
      .execute();
    if (victims.length === 0) return 0;
    const ids = victims.map((v) => Number(v.id));
    await tx.deleteFrom('events').where('id', 'in', ids).execute();
    const newest = ids[ids.length - 1]!;
    await tx
      .insertInto('event_retention')
      .values({ workspace_id: workspaceId, dropped: ids.length, last_dropped_id: newest, pruned_at: at })
      .onConflict((oc) =>
        oc.column('workspace_id').doUpdateSet({
          dropped: sql<number>`event_retention.dropped + ${ids.length}`,
          last_dropped_id: sql<number>`case when event_retention.last_dropped_id > ${newest} then event_retention.last_dropped_id else ${newest} end`,
          pruned_at: at,
        }),
      )
      .execute();
    return ids.length;
  };
  return db.isTransaction ? run(db) : db.transaction().execute(run);
}

/**
 * Deletes up to `limit` events (and retention counters) of workspaces whose row is gone: output
 * written while a workspace was being deleted can land after its row. Returns how many went.
 */
export async function pruneEventsWithoutWorkspace(db: Kysely<Database> | Transaction<Database>, limit: number): Promise<number> {
  const victims = await db
    .selectFrom('events')
    .select('id')
    .where((eb) => eb.not(eb.exists(eb.selectFrom('workspaces').select('workspaces.id').whereRef('workspaces.id', '=', 'events.workspace_id'))))
    .orderBy('id')
    .limit(limit)
    .execute();
  if (victims.length > 0) await db.deleteFrom('events').where('id', 'in', victims.map((v) => Number(v.id))).execute();
  await db
    .deleteFrom('event_retention')
    .where((eb) => eb.not(eb.exists(eb.selectFrom('workspaces').select('workspaces.id').whereRef('workspaces.id', '=', 'event_retention.workspace_id'))))
    .execute();
  return victims.length;
}
