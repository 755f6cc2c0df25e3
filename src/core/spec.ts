/** The workspace spec: how a workspace is built. Input schema (wire) and normalized form (stored). */
import { Type, type Static } from '@sinclair/typebox';
import { InputError } from './errors.ts';
import { ENV_NAME_PATTERN, assertWorkspacePath } from './names.ts';
import { assertSpecProcessStrings } from './process-input.ts';
import { parseSize } from './units.ts';

const SizeInput = Type.Union([Type.Integer({ minimum: 0 }), Type.String({ maxLength: 32 })]);

/** One environment variable; `secret` values are encrypted at rest and never returned by the API. */
export const EnvVarSchema = Type.Object(
  {
    name: Type.String({ pattern: ENV_NAME_PATTERN, maxLength: 256 }),
    value: Type.String({ maxLength: 65536 }),
    secret: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

/** A file written into the workspace before setup commands run; a `secret` one is encrypted at rest, never returned, and written 0600. */
export const ConfigFileSchema = Type.Object(
  {
    path: Type.String({ minLength: 1, maxLength: 1024 }),
    content: Type.String({ maxLength: 262144 }),
    mode: Type.Optional(Type.Integer({ minimum: 0, maximum: 0o777 })),
    secret: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

/** Credentials for pulling the workspace image from a private registry. */
export const RegistryLoginSchema = Type.Object(
  {
    registry: Type.String({ minLength: 1, maxLength: 255, pattern: '^[A-Za-z0-9.-]+(:[0-9]{1,5})?$' }),
    username: Type.String({ minLength: 1, maxLength: 255 }),
    password: Type.String({ minLength: 1, maxLength: 4096 }),
  },
  { additionalProperties: false },
);

/** A port the workspace listens on. */
export const PortSchema = Type.Object(
  {
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    name: Type.Optional(Type.String({ pattern: '^[a-z0-9-]{1,32}$' })),
    protocol: Type.Optional(Type.Union([Type.Literal('tcp'), Type.Literal('udp')])),
  },
  { additionalProperties: false },
);

/** Resource limits; sizes accept "512MiB"/"2G" or bytes. */
export const ResourcesInputSchema = Type.Object(
  {
    cpus: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 256 })),
    memory: Type.Optional(SizeInput),
    pids: Type.Optional(Type.Integer({ minimum: 16, maximum: 4194304 })),
    disk: Type.Optional(SizeInput),
  },
  { additionalProperties: false },
);

/** The spec as clients send it. */
export const SpecInputSchema = Type.Object(
  {
    image: Type.Optional(Type.String({ minLength: 1, maxLength: 512, pattern: '^[A-Za-z0-9][A-Za-z0-9._/:@-]*$' })),
    shell: Type.Optional(Type.String({ minLength: 1, maxLength: 256, pattern: '^/' })),
    env: Type.Optional(Type.Array(EnvVarSchema, { maxItems: 256 })),
    files: Type.Optional(Type.Array(ConfigFileSchema, { maxItems: 128 })),
    setup: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 16384 }), { maxItems: 64 })),
    teardown: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 16384 }), { maxItems: 64 })),
    userData: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 1024 }), { maxItems: 64 })),
    caches: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 1024 }), { maxItems: 64 })),
    ports: Type.Optional(Type.Array(PortSchema, { maxItems: 64 })),
    user: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$' })),
    resources: Type.Optional(ResourcesInputSchema),
    registryLogins: Type.Optional(Type.Array(RegistryLoginSchema, { maxItems: 16 })),
    mountPath: Type.Optional(Type.String({ minLength: 2, maxLength: 256 })),
  },
  { additionalProperties: false },
);
/** Spec as sent by clients. */
export type SpecInput = Static<typeof SpecInputSchema>;

/** Normalized resource limits, sizes in bytes. */
export interface Resources {
  cpus?: number;
  memory?: number;
  pids?: number;
  disk?: number;
}

/** The normalized spec that provisioners receive. Secret values are present here, in memory only. */
export interface Spec {
  image?: string;
  shell?: string;
  env: { name: string; value: string; secret: boolean }[];
  files: { path: string; content: string; mode: number; secret: boolean }[];
  setup: string[];
  teardown: string[];
  userData: string[];
  caches: string[];
  ports: { port: number; name?: string; protocol: 'tcp' | 'udp' }[];
  user?: string;
  resources: Resources;
  registryLogins: { registry: string; username: string; password: string }[];
  mountPath: string;
}

/** Environment variable names Berth sets itself; a spec may not override them. */
export const RESERVED_ENV = ['BERTH_SERVER_URL', 'BERTH_WORKSPACE_ID', 'BERTH_WORKSPACE_TOKEN', 'BERTH_WORKDIR'];

function uniqueBy<T>(items: T[], key: (t: T) => string, what: string): void {
  const seen = new Set<string>();
  for (const item of items) {
    const k = key(item);
    if (seen.has(k)) throw new InputError(`${what} "${k}" appears more than once.`);
    seen.add(k);
  }
}

/** Validates the semantic rules a JSON schema cannot express and returns the normalized spec. */
export function normalizeSpec(input: SpecInput = {}): Spec {
  assertSpecProcessStrings(input);
  const mountPath = input.mountPath ?? '/workspace';
  assertWorkspacePath(mountPath, 'spec.mountPath');
  if (mountPath.startsWith('~')) throw new InputError('spec.mountPath must be an absolute path such as /workspace.');

  const env = (input.env ?? []).map((e) => ({ name: e.name, value: e.value, secret: e.secret ?? false }));
  uniqueBy(env, (e) => e.name, 'spec.env variable');
  for (const e of env) {
    if (RESERVED_ENV.includes(e.name)) throw new InputError(`spec.env may not set ${e.name}: Berth sets it itself.`);
  }

  const files = (input.files ?? []).map((f, i) => ({
    path: assertWorkspacePath(f.path, `spec.files[${i}].path`),
    content: f.content,
    // Only the workspace user may read a secret file, whatever mode was asked for.
    mode: f.secret ? (f.mode ?? 0o600) & 0o700 : (f.mode ?? 0o644),
    secret: f.secret ?? false,
  }));
  uniqueBy(files, (f) => f.path, 'spec.files path');
  for (const f of files) {
    if (f.path === `${mountPath}/.berth` || f.path.startsWith(`${mountPath}/.berth/`)) {
      throw new InputError(`spec.files path "${f.path}" is inside ${mountPath}/.berth, which Berth reserves for itself.`);
    }
  }

  const userData = (input.userData ?? []).map((p, i) => assertWorkspacePath(p, `spec.userData[${i}]`));
  const caches = (input.caches ?? []).map((p, i) => assertWorkspacePath(p, `spec.caches[${i}]`));
  uniqueBy([...userData, ...caches], (p) => p, 'spec.userData/caches path');
  for (const p of [...userData, ...caches]) {
    if (p === mountPath || p.startsWith(`${mountPath}/`)) {
      throw new InputError(`"${p}" is inside ${mountPath}, which persists already; userData and caches name paths outside it, such as ~/.npm.`);
    }
  }

  const ports = (input.ports ?? []).map((p) => ({ port: p.port, protocol: p.protocol ?? ('tcp' as const), ...(p.name ? { name: p.name } : {}) }));
  uniqueBy(ports, (p) => `${p.port}/${p.protocol}`, 'spec.ports entry');

  const r = input.resources ?? {};
  const resources: Resources = {};
  if (r.cpus !== undefined) resources.cpus = r.cpus;
  if (r.pids !== undefined) resources.pids = r.pids;
  if (r.memory !== undefined) {
    resources.memory = parseSize(r.memory, 'spec.resources.memory');
    if (resources.memory < 6 * 1024 * 1024) throw new InputError('spec.resources.memory must be at least 6MiB.');
  }
  if (r.disk !== undefined) {
    resources.disk = parseSize(r.disk, 'spec.resources.disk');
    if (resources.disk < 1024 * 1024) throw new InputError('spec.resources.disk must be at least 1MiB.');
  }

  const registryLogins = (input.registryLogins ?? []).map((l) => ({ ...l }));
  uniqueBy(registryLogins, (l) => l.registry, 'spec.registryLogins registry');

  return {
    ...(input.image ? { image: input.image } : {}),
    ...(input.shell ? { shell: input.shell } : {}),
    env,
    files,
    setup: input.setup ?? [],
    teardown: input.teardown ?? [],
    userData,
    caches,
    ports,
    ...(input.user ? { user: input.user } : {}),
    resources,
    registryLogins,
    mountPath,
  };
}

/** The spec as the API shows it: secret env values, secret file contents and registry passwords replaced by null. */
export function redactSpec(spec: Spec): Omit<Spec, 'env' | 'files' | 'registryLogins'> & {
  env: { name: string; value: string | null; secret: boolean }[];
  files: { path: string; content: string | null; mode: number; secret: boolean }[];
  registryLogins: { registry: string; username: string; password: null }[];
} {
  return {
    ...spec,
    env: spec.env.map((e) => ({ name: e.name, value: e.secret ? null : e.value, secret: e.secret })),
    // Specs stored before files could be secret have no flag: they are not secret.
    files: spec.files.map((f) => ({ path: f.path, content: f.secret ? null : f.content, mode: f.mode, secret: f.secret ?? false })),
    registryLogins: spec.registryLogins.map((l) => ({ registry: l.registry, username: l.username, password: null })),
  };
}
