/** Wire types of the agent registry (`/api/v1/agents`): JSON schemas for validation and OpenAPI, and their types. */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { NameSchema } from './wire.ts';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

/** Label keys and values the `agent` provisioner places workspaces by. */
export const AgentLabelsSchema = Type.Record(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$' }), Type.String({ maxLength: 63, pattern: '^[A-Za-z0-9_./:-]*$' }), {
  description: 'Placement labels (KEY=VALUE)',
});

/** An agent as the API shows it. */
export const AgentSchema = Type.Object({
  name: NameSchema,
  url: Type.String({ description: "The agent's control port, https://HOST:PORT; its certificate names HOST" }),
  labels: AgentLabelsSchema,
  state: Type.Union([Type.Literal('pending'), Type.Literal('enrolled'), Type.Literal('revoked')], { description: 'pending until `berth agent enroll` ran on the host' }),
  fingerprint: Nullable(Type.String({ description: "SHA-256 of the agent's server certificate, which the control plane pins" })),
  clientFingerprint: Nullable(Type.String({ description: 'SHA-256 of the client certificate the control plane presents to this agent only' })),
  workspaces: Type.Integer({ minimum: 0, description: 'Workspaces pinned to this agent' }),
  createdAt: Type.String(),
  enrolledAt: Nullable(Type.String()),
  revokedAt: Nullable(Type.String()),
  expiresAt: Nullable(Type.String({ description: "When the agent's certificates expire; rotate before by adding the agent again and enrolling" })),
});
/** An agent. */
export type Agent = Static<typeof AgentSchema>;

/** Body of POST /agents. */
export const CreateAgentSchema = Type.Object(
  {
    name: NameSchema,
    url: Type.String({ minLength: 1, maxLength: 2048, description: "https://HOST:PORT of the agent's control port; HOST is what its certificate names" }),
    labels: Type.Optional(AgentLabelsSchema),
    ttl: Type.Optional(Type.String({ minLength: 1, maxLength: 16, description: 'How long the enrollment token lives, e.g. 15m (default), 1h; at most 24h' })),
  },
  { additionalProperties: false },
);
/** Body of POST /agents. */
export type CreateAgent = Static<typeof CreateAgentSchema>;

/** Answer of POST /agents: the one-time enrollment token, shown once. */
export const NewAgentSchema = Type.Object({
  agent: AgentSchema,
  token: Type.String({ description: 'One-time enrollment token; only its hash is stored' }),
  expiresAt: Type.String(),
  command: Type.String({ description: 'The command to run on the agent host' }),
});
/** Answer of POST /agents. */
export type NewAgent = Static<typeof NewAgentSchema>;

/** Body of POST /agents/enroll (no bearer token: the enrollment token is the credential). */
export const EnrollAgentSchema = Type.Object(
  {
    token: Type.String({ minLength: 1, maxLength: 200 }),
    csr: Type.String({ minLength: 1, maxLength: 16_384, description: 'PEM PKCS#10 request for an ECDSA P-256 key made on the agent host' }),
  },
  { additionalProperties: false },
);
/** Body of POST /agents/enroll. */
export type EnrollAgent = Static<typeof EnrollAgentSchema>;

/** Answer of POST /agents/enroll. */
export const EnrolledAgentSchema = Type.Object({
  name: NameSchema,
  certificate: Type.String({ description: "The agent's server certificate, PEM" }),
  ca: Type.String({ description: "The control plane's agent CA, PEM" }),
  clientFingerprint: Type.String({ description: 'SHA-256 of the only client certificate the agent should accept' }),
});
/** Answer of POST /agents/enroll. */
export type EnrolledAgent = Static<typeof EnrolledAgentSchema>;
