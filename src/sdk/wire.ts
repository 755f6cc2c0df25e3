/** Wire types of the REST API: JSON schemas (for validation and OpenAPI) and their TypeScript types. */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { ENV_NAME_PATTERN, NAME_PATTERN } from '../core/names.ts';
import { ConfigFileSchema, EnvVarSchema, SpecInputSchema } from '../core/spec.ts';
import { DESIRED_STATES, PHASES } from '../core/workspace.ts';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

/** `{"error":{"code","message","details"?}}` — every non-2xx response. */
export const ErrorBodySchema = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  }),
});
/** Error body, as TypeScript. */
export type ErrorBody = Static<typeof ErrorBodySchema>;

/** JSON schema of name on the wire. */
export const NameSchema = Type.String({ pattern: NAME_PATTERN, minLength: 1, maxLength: 63 });

/**
 * What `git check-ref-format --branch` accepts: no control characters, spaces or `~ ^ : ? * [ \`,
 * no `..`, `@{` or `//`, no component starting with `.` or ending with `.lock`, not starting with
 * `-` or `/`, not ending with `/` or `.`, and not `@` or `HEAD`. The server also asks git itself.
 */
export const BRANCH_NAME_PATTERN =
  '^(?!-)(?!/)(?!\\.)(?!.*/\\.)(?!.*\\.\\.)(?!.*//)(?!.*@\\{)(?!@$)(?!HEAD$)(?!.*\\.lock(?:/|$))(?!.*[/.]$)[^\\x00-\\x20\\x7f~^:?*\\[\\\\]+$';

/** A branch name (or tag, for workspace refs) as git accepts it. */
export const BranchNameSchema = Type.String({ minLength: 1, maxLength: 255, pattern: BRANCH_NAME_PATTERN });

/** JSON schema of user on the wire. */
export const UserSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: Type.Union([Type.Literal('admin'), Type.Literal('user')]),
  createdAt: Type.String(),
});
/** User, as TypeScript. */
export type User = Static<typeof UserSchema>;

/** JSON schema of token on the wire. */
export const TokenSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  createdAt: Type.String(),
  expiresAt: Nullable(Type.String()),
  revokedAt: Nullable(Type.String()),
});
/** Token, as TypeScript. */
export type Token = Static<typeof TokenSchema>;

/** JSON schema of create token on the wire. */
export const CreateTokenSchema = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 100 }), ttl: Type.Optional(Type.String({ maxLength: 32 })) },
  { additionalProperties: false },
);
/** The only response that carries a token in clear; it is shown once. */
export const NewTokenSchema = Type.Object({ token: Type.String(), info: TokenSchema });
/** New token, as TypeScript. */
export type NewToken = Static<typeof NewTokenSchema>;

/** JSON schema of create user on the wire. */
export const CreateUserSchema = Type.Object(
  { name: NameSchema, role: Type.Optional(Type.Union([Type.Literal('admin'), Type.Literal('user')])) },
  { additionalProperties: false },
);
/** JSON schema of new user on the wire. */
export const NewUserSchema = Type.Object({ user: UserSchema, token: Type.String() });

/** JSON schema of project on the wire. */
export const ProjectSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  repo: Type.String(),
  branch: Nullable(Type.String()),
  /** Kind of upstream credentials stored (encrypted) with the project; the credentials themselves are never returned. */
  credentials: Nullable(Type.Union([Type.Literal('password'), Type.Literal('ssh-key')])),
  createdAt: Type.String(),
  /** Something the caller should know about the change just made (e.g. credentials dropped because the URL moved host). */
  notice: Type.Optional(Type.String()),
});
/** Project, as TypeScript. */
export type Project = Static<typeof ProjectSchema>;

/** A project role: viewer (read, clone), developer (+ push, sync, create workspaces), owner (+ change, delete, members). */
export const ProjectRoleSchema = Type.Union([Type.Literal('owner'), Type.Literal('developer'), Type.Literal('viewer')]);
/** A member of a project, with their role. */
export const MemberSchema = Type.Object({ user: Type.String(), role: ProjectRoleSchema, createdAt: Type.String() });
/** Member, as TypeScript. */
export type Member = Static<typeof MemberSchema>;
/** Body of PUT /projects/{name}/members/{user}. */
export const SetMemberSchema = Type.Object({ role: ProjectRoleSchema }, { additionalProperties: false });

/** Upstream credentials: a username plus password or access token (https), or an SSH private key (ssh). Write-only. */
export const ProjectCredentialsInputSchema = Type.Object(
  {
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    password: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    sshKey: Type.Optional(Type.String({ minLength: 1, maxLength: 16384 })),
  },
  { additionalProperties: false },
);

/** JSON schema of create project on the wire. */
export const CreateProjectSchema = Type.Object(
  {
    name: NameSchema,
    repo: Type.String({ minLength: 1, maxLength: 2048 }),
    branch: Type.Optional(BranchNameSchema),
    credentials: Type.Optional(ProjectCredentialsInputSchema),
  },
  { additionalProperties: false },
);
/** Create project, as TypeScript. */
export type CreateProject = Static<typeof CreateProjectSchema>;

/** Changes to a project; `credentials: null` removes the stored credentials. */
export const UpdateProjectSchema = Type.Object(
  {
    repo: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
    branch: Type.Optional(Nullable(BranchNameSchema)),
    credentials: Type.Optional(Nullable(ProjectCredentialsInputSchema)),
  },
  { additionalProperties: false },
);
/** Update project, as TypeScript. */
export type UpdateProject = Static<typeof UpdateProjectSchema>;

/** The result of fetching a project's upstream into its mirror. */
export const ProjectSyncSchema = Type.Object({
  project: Type.String(),
  fetchedAt: Type.String(),
  fetched: Type.Boolean({ description: 'False when the mirror was fresh and no fetch was needed.' }),
  durationMs: Type.Integer(),
  refs: Type.Integer({ description: 'Branches and tags in the mirror.' }),
  updated: Type.Integer({ description: 'Refs the fetch created, moved or removed.' }),
  head: Nullable(Type.String({ description: "The upstream's default branch." })),
});
/** Project sync, as TypeScript. */
export type ProjectSync = Static<typeof ProjectSyncSchema>;

/** What a provisioner type can do (see `Capabilities` in src/provisioners/provisioner.ts). */
export const CapabilitiesSchema = Type.Object({
  runsOnHost: Type.Boolean({ description: "Workspaces run on the control plane's own host as its user; only admins may use it." }),
  image: Type.Boolean({ description: 'Honours spec.image.' }),
  user: Type.Boolean({ description: 'Honours spec.user.' }),
  resources: Type.Boolean({ description: 'Honours spec.resources (CPU and memory limits).' }),
  registryLogins: Type.Boolean({ description: 'Honours spec.registryLogins.' }),
  needsServerUrl: Type.Boolean({ description: 'Workspaces reach the control plane over a network and need a URL they can reach.' }),
  fork: Type.Boolean({ description: "Workspaces can be forked: a new workspace starts from a copy of another's files." }),
});
/** Capabilities, as TypeScript. */
export type CapabilitiesInfo = Static<typeof CapabilitiesSchema>;

/** JSON schema of provisioner info on the wire. */
export const ProvisionerInfoSchema = Type.Object({
  name: Type.String(),
  type: Type.String(),
  default: Type.Boolean(),
  capabilities: CapabilitiesSchema,
  builtin: Type.Boolean({ description: 'Registered by the control plane itself at start; cannot be removed or changed.' }),
  workspaces: Type.Integer({ description: 'Workspaces that use it.' }),
  error: Type.Optional(Type.String({ description: 'Set when a stored provisioner could not be built at start: why. Its workspaces wait; it can be removed.' })),
});
/** Provisioner info, as TypeScript. */
export type ProvisionerInfo = Static<typeof ProvisionerInfoSchema>;

/** A provisioner type this server has: what `provisioner add --type` accepts. */
export const ProvisionerTypeSchema = Type.Object({
  type: Type.String(),
  summary: Type.String(),
  capabilities: CapabilitiesSchema,
  options: Type.Unknown({ description: "JSON Schema of the type's options." }),
});
/** Provisioner type, as TypeScript. */
export type ProvisionerType = Static<typeof ProvisionerTypeSchema>;

/** Changes a provisioner: its options (merged onto the stored ones, `null` removes one; checked like on add) or whether it is the default. */
export const UpdateProvisionerSchema = Type.Object(
  {
    options: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Options to set; a null value removes that option.' })),
    default: Type.Optional(Type.Boolean({ description: 'true makes it the default; false makes the built-in default apply again.' })),
  },
  { additionalProperties: false },
);
/** Update provisioner, as TypeScript. */
export type UpdateProvisioner = Static<typeof UpdateProvisionerSchema>;

/** Adds a provisioner instance; `options` are type-specific (docs/provisioners/<type>.md) and stored encrypted. */
export const CreateProvisionerSchema = Type.Object(
  {
    name: NameSchema,
    type: Type.String({ pattern: '^[a-z][a-z0-9-]{0,31}$' }),
    options: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    default: Type.Optional(Type.Boolean({ description: 'Use it for workspaces created without --provisioner.' })),
  },
  { additionalProperties: false },
);
/** Create provisioner, as TypeScript. */
export type CreateProvisioner = Static<typeof CreateProvisionerSchema>;

/** JSON schema of phase on the wire. */
export const PhaseSchema = Type.Union(PHASES.map((p) => Type.Literal(p)));
/** JSON schema of desired on the wire. */
export const DesiredSchema = Type.Union(DESIRED_STATES.map((d) => Type.Literal(d)));

/** JSON schema of port mapping on the wire. */
export const PortMappingSchema = Type.Object({
  port: Type.Integer(),
  protocol: Type.String(),
  hostIp: Type.Optional(Type.String()),
  hostPort: Type.Optional(Type.Integer()),
});

/** Where a forked workspace came from. */
export const ForkLineageSchema = Type.Object({
  id: Type.String({ description: 'The source workspace id' }),
  name: Nullable(Type.String({ description: 'The source as owner/name; null once it is deleted' })),
  branch: Type.String({ description: 'The branch the fork checked out' }),
  copied: Type.Boolean({ description: 'Whether the files have been copied and the branch checked out' }),
});

/** What a workspace was last seen doing: its last command (secrets masked), its terminal's last output, a task run's step. */
export const WorkspaceActivitySchema = Type.Object({
  lastCommand: Nullable(Type.String()),
  lastCommandAt: Nullable(Type.String()),
  lastOutputAt: Nullable(Type.String()),
  taskStep: Nullable(Type.String({ description: 'For a workspace of a task run: creating, forking, waiting, running, collecting, pushing, cleaning or done' })),
});
/** Workspace activity, as TypeScript. */
export type WorkspaceActivity = Static<typeof WorkspaceActivitySchema>;

/** JSON schema of workspace on the wire. */
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
  unreachableSince: Type.Optional(Type.String({ description: 'While the phase is unreachable: since when the runtime could not be observed (the reason is in message).' })),
  ports: Type.Array(PortMappingSchema),
  details: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()])),
  spec: Type.Unknown({ description: 'The normalized spec; secret values are null.' }),
  activity: Type.Optional(WorkspaceActivitySchema),
  forkedFrom: Type.Optional(ForkLineageSchema),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
/** Workspace, as TypeScript. */
export type Workspace = Static<typeof WorkspaceSchema>;
export type { DesiredState, Phase } from '../core/workspace.ts';

/** JSON schema of fork workspaces on the wire: the new workspace's name (with `count`, the prefix of NAME-1..NAME-N) and branch. */
export const ForkWorkspaceSchema = Type.Object(
  {
    name: NameSchema,
    count: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, description: 'How many forks; more than 1 names them NAME-1..NAME-N' })),
    branch: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: BRANCH_NAME_PATTERN, description: 'Branch the fork checks out, made from the source\'s HEAD (default fork/<name>; with count, suffixed -1..-N)' })),
  },
  { additionalProperties: false },
);
/** Fork workspaces, as TypeScript. */
export type ForkWorkspace = Static<typeof ForkWorkspaceSchema>;

/** A workspace reference in a path (`{ref}`): its id, name, or owner/name. */
export const WorkspaceRefSchema = Type.String({ minLength: 1, maxLength: 127, pattern: '^([a-z0-9-]{1,63}/)?[a-z0-9_-]{1,63}$', description: 'Workspace id, name, or owner/name' });

/** JSON schema of create workspace on the wire. */
export const CreateWorkspaceSchema = Type.Object(
  {
    name: NameSchema,
    project: NameSchema,
    ref: Type.Optional(BranchNameSchema),
    provisioner: Type.Optional(NameSchema),
    spec: Type.Optional(SpecInputSchema),
  },
  { additionalProperties: false },
);
/** Create workspace, as TypeScript. */
export type CreateWorkspace = Static<typeof CreateWorkspaceSchema>;

/** A new limit (a number, or a size such as "2GiB"), or null to remove it. */
const LimitPatch = Type.Optional(Type.Union([Type.Number({ minimum: 0 }), Type.String({ maxLength: 32 }), Type.Null()]));

/** JSON schema of a workspace spec change (PATCH): the fields given change, the rest is kept; applied by reprovisioning on the same storage. */
export const SpecPatchSchema = Type.Object(
  {
    image: SpecInputSchema.properties.image,
    resources: Type.Optional(Type.Object({ cpus: LimitPatch, memory: LimitPatch, pids: LimitPatch, disk: LimitPatch }, { additionalProperties: false })),
    env: Type.Optional(Type.Array(EnvVarSchema, { maxItems: 256, description: 'Variables to set (added, or replacing one of the same name)' })),
    unsetEnv: Type.Optional(Type.Array(Type.String({ pattern: ENV_NAME_PATTERN, maxLength: 256 }), { maxItems: 256, description: 'Variables to remove' })),
    files: Type.Optional(Type.Array(ConfigFileSchema, { maxItems: 128, description: 'Config files to write (added, or replacing one of the same path)' })),
    removeFiles: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 1024 }), { maxItems: 128, description: 'Config files no longer written (a file already in the workspace stays)' })),
  },
  { additionalProperties: false },
);
/** Spec change, as TypeScript. */
export type SpecPatch = Static<typeof SpecPatchSchema>;

/** JSON schema of event on the wire. */
export const EventSchema = Type.Object({ id: Type.Integer(), ts: Type.String(), kind: Type.String(), message: Type.String() });
/** Workspace event, as TypeScript. */
export type WorkspaceEvent = Static<typeof EventSchema>;

/** JSON schema of me on the wire. */
export const MeSchema = Type.Object({
  user: UserSchema,
  tokenKind: Type.Union([Type.Literal('user'), Type.Literal('workspace')]),
  workspaceId: Nullable(Type.String()),
});
/** Me, as TypeScript. */
export type Me = Static<typeof MeSchema>;

/** State of a file on one side (index or work tree), from `git status`. */
export const GitFileStateSchema = Type.Union(
  ['unmodified', 'modified', 'type-changed', 'added', 'deleted', 'renamed', 'copied', 'unmerged', 'untracked', 'ignored'].map((s) => Type.Literal(s)),
);
/** One file in `git status`: `index` is the staged state, `worktree` the unstaged one. */
export const GitFileStatusSchema = Type.Object({
  path: Type.String(),
  origPath: Type.Optional(Type.String()),
  index: GitFileStateSchema,
  worktree: GitFileStateSchema,
  conflicted: Type.Boolean(),
});
/** `git status` of a workspace's checkout. */
export const GitStatusSchema = Type.Object({
  branch: Nullable(Type.String()),
  detached: Type.Boolean(),
  commit: Nullable(Type.String()),
  upstream: Nullable(Type.String()),
  ahead: Type.Integer(),
  behind: Type.Integer(),
  clean: Type.Boolean(),
  files: Type.Array(GitFileStatusSchema),
});
/** Git status, as TypeScript. */
export type GitStatus = Static<typeof GitStatusSchema>;

/** The diff of one file. */
export const GitFileDiffSchema = Type.Object({
  path: Type.String(),
  oldPath: Type.Optional(Type.String()),
  change: Type.Union(['added', 'deleted', 'modified', 'renamed', 'copied', 'mode-changed'].map((s) => Type.Literal(s))),
  binary: Type.Boolean(),
  additions: Type.Integer(),
  deletions: Type.Integer(),
  patch: Type.String(),
});
/** Staged (index vs HEAD) and unstaged (work tree vs index) changes, per file. */
export const GitDiffSchema = Type.Object({
  staged: Type.Array(GitFileDiffSchema),
  unstaged: Type.Array(GitFileDiffSchema),
  truncated: Type.Boolean({ description: 'True when the diff was too large and was cut.' }),
});
/** Git diff, as TypeScript. */
export type GitDiff = Static<typeof GitDiffSchema>;

/** Paths of the checkout to stage, unstage or discard; `all` for every changed file. */
export const GitPathsSchema = Type.Object(
  {
    paths: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), { maxItems: 10000 })),
    all: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
/** Git paths, as TypeScript. */
export type GitPaths = Static<typeof GitPathsSchema>;

/** A commit request; `all` stages every tracked change first (like `git commit -a`). */
export const GitCommitSchema = Type.Object(
  { message: Type.String({ minLength: 1, maxLength: 65536 }), all: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
/** Git commit, as TypeScript. */
export type GitCommit = Static<typeof GitCommitSchema>;

/** The commit that was made. */
export const GitCommitResultSchema = Type.Object({ commit: Type.String(), branch: Nullable(Type.String()), summary: Type.String() });
/** Git commit result, as TypeScript. */
export type GitCommitResult = Static<typeof GitCommitResultSchema>;

/** Options of pull and push. */
export const GitSyncOptionsSchema = Type.Object(
  {
    rebase: Type.Optional(Type.Boolean({ description: 'pull: rebase instead of merge.' })),
    force: Type.Optional(Type.Boolean({ description: 'push: force, with a lease on what was last fetched.' })),
  },
  { additionalProperties: false },
);
/** Git sync options, as TypeScript. */
export type GitSyncOptions = Static<typeof GitSyncOptionsSchema>;

/** What pull or push printed, and the status afterwards. */
export const GitSyncResultSchema = Type.Object({ output: Type.String(), status: GitStatusSchema });
/** Git sync result, as TypeScript. */
export type GitSyncResult = Static<typeof GitSyncResultSchema>;

/** The exec WebSocket protocol (constants and first message), typebox-free so the CLI starts fast. */
export { CHANNEL_STDERR, CHANNEL_STDIN, CHANNEL_STDOUT, EXEC_PROTOCOL, type ExecStart } from './protocol.ts';
