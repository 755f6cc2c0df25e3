/** Wire types of quotas and of the provisioners a project may use. */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { NameSchema } from './wire.ts';

const Limit = <T extends TSchema>(t: T) => Type.Optional(Type.Union([t, Type.Null()]));
const SizeLimit = Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.String({ minLength: 1, maxLength: 32 }), Type.Null()]));

/** A quota as an admin sets it: absent or null = no limit; sizes as bytes or "8GiB". */
export const QuotaInputSchema = Type.Object(
  {
    workspaces: Limit(Type.Integer({ minimum: 0, maximum: 100000 })),
    cpus: Limit(Type.Number({ minimum: 0, maximum: 100000 })),
    memory: SizeLimit,
    storage: SizeLimit,
  },
  { additionalProperties: false },
);
/** A quota as an admin sets it. */
export type QuotaInput = Static<typeof QuotaInputSchema>;

const Amounts = Type.Object({
  workspaces: Type.Union([Type.Integer(), Type.Null()]),
  cpus: Type.Union([Type.Number(), Type.Null()]),
  memory: Type.Union([Type.Integer(), Type.Null()]),
  storage: Type.Union([Type.Integer(), Type.Null()]),
});

/** A user's or project's limits (null = none) and what its workspaces use now (sizes in bytes). */
export const QuotaSchema = Type.Object({
  scope: Type.Union([Type.Literal('user'), Type.Literal('project')]),
  subject: Type.String(),
  limits: Amounts,
  used: Type.Object({ workspaces: Type.Integer(), cpus: Type.Number(), memory: Type.Integer(), storage: Type.Integer() }),
});
/** A quota with its usage. */
export type Quota = Static<typeof QuotaSchema>;

/** The provisioners a project may use; empty = any. */
export const ProjectProvisionersSchema = Type.Object({ project: Type.String(), provisioners: Type.Array(NameSchema) }, { additionalProperties: false });
/** The provisioners a project may use. */
export type ProjectProvisioners = Static<typeof ProjectProvisionersSchema>;

/** Body of PUT /projects/{name}/provisioners. */
export const SetProjectProvisionersSchema = Type.Object({ provisioners: Type.Array(NameSchema, { maxItems: 64, uniqueItems: true }) }, { additionalProperties: false });
/** Body of PUT /projects/{name}/provisioners. */
export type SetProjectProvisioners = Static<typeof SetProjectProvisionersSchema>;
