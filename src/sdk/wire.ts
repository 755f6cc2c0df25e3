/** Wire types of the REST API: JSON schemas (for validation and OpenAPI) and their TypeScript types. */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { NAME_PATTERN } from '../core/names.ts';
import { SpecInputSchema } from '../core/spec.ts';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

/** `{"error":{"code","message","details"?}}` — every non-2xx response. */
export const ErrorBodySchema = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  }),
});
export type ErrorBody = Static<typeof ErrorBodySchema>;

export const NameSchema = Type.String({ pattern: NAME_PATTERN, minLength: 1, maxLength: 63 });

export const UserSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: Type.Union([Type.Literal('admin'), Type.Literal('user')]),
  createdAt: Type.String(),
});
export type User = Static<typeof UserSchema>;

export const TokenSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  createdAt: Type.String(),
  expiresAt: Nullable(Type.String()),
  revokedAt: Nullable(Type.String()),
});
export type Token = Static<typeof TokenSchema>;

export const CreateTokenSchema = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 100 }), ttl: Type.Optional(Type.String({ maxLength: 32 })) },
  { additionalProperties: false },
);
/** The only response that carries a token in clear; it is shown once. */
export const NewTokenSchema = Type.Object({ token: Type.String(), info: TokenSchema });
export type NewToken = Static<typeof NewTokenSchema>;

export const CreateUserSchema = Type.Object(
  { name: NameSchema, role: Type.Optional(Type.Union([Type.Literal('admin'), Type.Literal('user')])) },
  { additionalProperties: false },
);
export const NewUserSchema = Type.Object({ user: UserSchema, token: Type.String() });

export const ProjectSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  repo: Type.String(),
  branch: Nullable(Type.String()),
  createdAt: Type.String(),
});
export type Project = Static<typeof ProjectSchema>;

export const CreateProjectSchema = Type.Object(
  {
    name: NameSchema,
    repo: Type.String({ minLength: 1, maxLength: 2048 }),
    branch: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  },
  { additionalProperties: false },
);
export type CreateProject = Static<typeof CreateProjectSchema>;

export const ProvisionerInfoSchema = Type.Object({ name: Type.String(), type: Type.String(), default: Type.Boolean() });
export type ProvisionerInfo = Static<typeof ProvisionerInfoSchema>;

export const PhaseSchema = Type.Union(
  ['pending', 'provisioning', 'running', 'stopping', 'stopped', 'deleting', 'deleted', 'failed'].map((p) => Type.Literal(p)),
);
export const DesiredSchema = Type.Union([Type.Literal('running'), Type.Literal('stopped'), Type.Literal('deleted')]);

export const PortMappingSchema = Type.Object({
  port: Type.Integer(),
  protocol: Type.String(),
  hostIp: Type.Optional(Type.String()),
  hostPort: Type.Optional(Type.Integer()),
});

export const WorkspaceSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  owner: Type.String(),
  project: Type.String(),
  ref: Nullable(Type.String()),
  provisioner: Type.String(),
  desired: DesiredSchema,
  phase: PhaseSchema,
  message: Nullable(Type.String()),
  ports: Type.Array(PortMappingSchema),
  details: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()])),
  spec: Type.Unknown({ description: 'The normalized spec; secret values are null.' }),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
export type Workspace = Static<typeof WorkspaceSchema> & { phase: Phase; desired: 'running' | 'stopped' | 'deleted' };
export type Phase = 'pending' | 'provisioning' | 'running' | 'stopping' | 'stopped' | 'deleting' | 'deleted' | 'failed';

export const CreateWorkspaceSchema = Type.Object(
  {
    name: NameSchema,
    project: NameSchema,
    ref: Type.Optional(Type.String({ minLength: 1, maxLength: 255, pattern: '^[^\\s~^:?*\\[\\\\]+$' })),
    provisioner: Type.Optional(NameSchema),
    spec: Type.Optional(SpecInputSchema),
  },
  { additionalProperties: false },
);
export type CreateWorkspace = Static<typeof CreateWorkspaceSchema>;

export const EventSchema = Type.Object({ id: Type.Integer(), ts: Type.String(), kind: Type.String(), message: Type.String() });
export type WorkspaceEvent = Static<typeof EventSchema>;

export const MeSchema = Type.Object({
  user: UserSchema,
  tokenKind: Type.Union([Type.Literal('user'), Type.Literal('workspace')]),
  workspaceId: Nullable(Type.String()),
});
export type Me = Static<typeof MeSchema>;

/**
 * Terminal/exec WebSocket protocol (`GET /api/v1/workspaces/:ref/exec`, version 1).
 * The client's first message is a JSON text frame `ExecStart`. After that, binary frames carry
 * one channel byte then payload: 0 = stdin (client→server), 1 = stdout, 2 = stderr (server→client).
 * Text frames carry JSON control messages: client→server `{type:"resize",cols,rows}`,
 * `{type:"eof"}`, `{type:"signal",signal}`; server→client `{type:"session",id}`,
 * `{type:"exit",code,signal?}`, `{type:"error",code,message}`.
 */
export const EXEC_PROTOCOL = 'berth.exec.v1';
export interface ExecStart {
  /** argv; empty for the workspace's shell. */
  cmd: string[];
  tty: boolean;
  cols?: number;
  rows?: number;
  env?: Record<string, string>;
  /** Re-attach to a detached terminal session instead of starting a process. */
  session?: string;
}
export const CHANNEL_STDIN = 0;
export const CHANNEL_STDOUT = 1;
export const CHANNEL_STDERR = 2;
