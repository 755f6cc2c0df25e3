/** Wire types of the admin API (`/api/v1/admin`): quarantined orphans, gc and backups. */
import { Type, type Static } from '@sinclair/typebox';

/** A quarantined orphan: resources a provisioner holds for a workspace id the database does not know. */
export const OrphanSchema = Type.Object({
  workspaceId: Type.String(),
  provisioner: Type.String(),
  firstSeen: Type.String({ description: 'When the control plane first found these resources without a workspace row' }),
  ageMs: Type.Integer({ minimum: 0 }),
  removeAfter: Type.Optional(Type.String({ description: 'When the grace period (--orphan-grace) ends and they are removed by themselves' })),
  reason: Type.String(),
  resources: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()]), { description: "What removal would delete, as the provisioner observes it (directory, volume, claim)" }),
});
/** A quarantined orphan. */
export type Orphan = Static<typeof OrphanSchema>;

/** Body of POST /admin/gc. */
export const GcRequestSchema = Type.Object({ dryRun: Type.Optional(Type.Boolean({ description: 'List what would be removed; remove nothing' })) }, { additionalProperties: false });
/** Body of POST /admin/gc. */
export type GcRequest = Static<typeof GcRequestSchema>;

/** What gc removed (or with dryRun would remove). */
export const GcReportSchema = Type.Object({
  dryRun: Type.Boolean(),
  orphans: Type.Array(OrphanSchema, { description: 'The quarantined orphans gc considered: removed, unless dryRun or listed in failed' }),
  failed: Type.Array(Type.Object({ workspaceId: Type.String(), provisioner: Type.String(), message: Type.String() }), { description: 'Removals that failed; those stay quarantined' }),
});
/** What gc removed (or would remove). */
export type GcReport = Static<typeof GcReportSchema>;
