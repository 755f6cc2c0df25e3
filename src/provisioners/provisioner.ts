/**
 * The Provisioner contract. Every place a workspace can run (shell, docker, agent, kubernetes)
 * implements this interface; the reconciler is its only caller for lifecycle, the terminal
 * service for exec. Every method must be idempotent: the reconciler may call it again after a
 * crash at any point, and the second call must converge instead of duplicating work.
 */
import type { Readable, Writable } from 'node:stream';
import type { Static, TObject } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { Spec } from '../core/spec.ts';
import type { AgentDirectory } from './agent/directory.ts';

/** The `maxConcurrentOps` of the docker and shell types when their options give none. */
export const DEFAULT_MAX_CONCURRENT_OPS = 8;

/**
 * What a provisioner type can do. Generic code (workspace creation, the CLI, the conformance
 * suite) decides from these, never from a type name.
 */
export interface Capabilities {
  /** Workspace processes run on the control plane's own host as its user, next to its database and keys: only admins may use it. */
  runsOnHost: boolean;
  /** Honours `spec.image` (and can have a default image). */
  image: boolean;
  /** Honours `spec.user` (run as another user than the image's default). */
  user: boolean;
  /** Honours `spec.resources` (CPU and memory limits). */
  resources: boolean;
  /** Honours `spec.registryLogins` (pulls from private registries). */
  registryLogins: boolean;
  /** Workspaces reach the control plane over a network, so BERTH_SERVER_URL must be an address they can reach (see `--server-url`). */
  needsServerUrl: boolean;
  /** Implements `copyStorage`: a workspace can be forked (a new workspace starting from a copy of another's files). */
  fork: boolean;
  /** Implements `adopt`: runtimes can be prepared ahead in a warm pool and handed to a new workspace (src/server/pool/). */
  warmPool?: boolean;
}

/** What the control plane hands every provisioner type. */
export interface PluginContext {
  /** This control plane's random id; marks what it creates on shared backends. */
  installation: string;
  /** The control plane's data directory (default parent of local storage). */
  dataDir: string;
  /** The control plane's URL as its own host sees it (final once `listening` resolves). */
  serverUrl: () => string;
  /** Resolves once the control plane listens: instances are built before that, and may need its URL afterwards. */
  listening: Promise<void>;
  logger: Logger;
  /** The registry of enrolled remote host agents (the `agent` provisioner's placement, pins and TLS); absent in tools without a control plane. */
  agents?: AgentDirectory;
}

/** An instance the control plane registers by itself at start, without an admin adding it. */
export interface BuiltinInstance {
  name: string;
  options: Record<string, unknown>;
  /** Whether it is checked against its backend first and skipped, quietly, when that fails. */
  probe?: boolean;
}

/**
 * A provisioner type as it registers itself: name, options schema, capabilities and factory.
 * The registry validates options against `options` before `create` sees them; OpenAPI and the
 * CLI show the schema's descriptions.
 */
export interface ProvisionerPlugin<S extends TObject = TObject> {
  /** Type name, e.g. `docker`. */
  readonly type: string;
  /** One sentence saying where workspaces of this type run. */
  readonly summary: string;
  /** TypeBox schema of the instance options (`additionalProperties: false`). */
  readonly options: S;
  readonly capabilities: Capabilities;
  /** Builds an instance from validated options; makes no request that must succeed (the backend may come up later). */
  create(name: string, options: Static<S>, ctx: PluginContext): Promise<Provisioner>;
  /** Further checks of options that a schema cannot express (combinations, paths); throws InputError. */
  checkOptions?(options: Static<S>): void;
  /** Instances to register at every start (e.g. `shell`, or a local Docker engine that answers). */
  builtins?(ctx: PluginContext, env: NodeJS.ProcessEnv): BuiltinInstance[];
}

/** What a provisioner needs to know about one workspace. */
export interface WorkspaceContext {
  /** Stable id, e.g. `ws_…`; names resources (directories, containers, PVCs). */
  id: string;
  name: string;
  owner: { id: string; name: string };
  project: {
    name: string;
    /** What `git clone` is given: the control plane's git gateway (`<server>/git/<project>.git`), or the upstream when the gateway is off. */
    cloneUrl: string;
    /**
     * Extra environment for git during clone: GIT_CONFIG_* variables carrying a credential helper that
     * reads $BERTH_WORKSPACE_TOKEN. Holds no secret itself; after the clone, persist its credential
     * settings in the checkout with `checkoutConfigSteps` / `checkoutConfigScript` from `../git-setup.ts`.
     */
    gitEnv?: Record<string, string>;
    /**
     * For runtimes that cannot reach the gateway at init time: streams a `git bundle` of the
     * workspace's ref (or the default branch) straight from the control plane's mirror. Clone it with
     * `git clone --branch <ref> <bundle-file> work`, then `git remote set-url origin <cloneUrl>` and
     * apply the checkout config, so later pulls and pushes go through the gateway.
     */
    bundle?: (signal: AbortSignal) => Promise<NodeJS.ReadableStream>;
    /**
     * For runtimes on the control plane's own host (shell, local docker): makes the project's mirror
     * fresh and returns its directory, so the clone reads it from disk instead of over HTTP. The
     * checkout's `origin` must still be set to `cloneUrl`.
     */
    localMirror?: (signal: AbortSignal) => Promise<string>;
  };
  /** Branch or ref to check out; undefined = the remote's default branch. */
  ref?: string;
  /** Normalized spec, secret values included (in memory only). */
  spec: Spec;
  /** Environment every process in the workspace gets: BERTH_* plus spec env (and the trust variables of `./trust.ts` with a CA bundle). */
  env: Record<string, string>;
  /** PEM certificates of a team's own CA (`berth server --ca-bundle`): install with `./trust.ts` on every provision. */
  caBundle?: string;
}

/** A line of provisioning output, streamed into the workspace's event log. */
export type ProgressSink = (line: string, kind?: 'output' | 'progress' | 'info') => void;

/** Options common to the long lifecycle calls. */
export interface OpOptions {
  signal: AbortSignal;
  progress: ProgressSink;
}

/** A published port: container/process port → host address. */
export interface PortMapping {
  port: number;
  protocol: 'tcp' | 'udp';
  hostIp?: string;
  hostPort?: number;
}

/** What `inspect` observes. */
export interface RuntimeStatus {
  /** `running`: ready for exec. `stopped`: storage kept, no runtime. `absent`: nothing exists. `failed`: runtime exited abnormally. */
  state: 'running' | 'stopped' | 'absent' | 'failed';
  /** Whether the workspace's storage exists. */
  storage: boolean;
  /** A sentence explaining a failure (e.g. "the container was killed because it ran out of memory (OOM)"). */
  message?: string;
  ports?: PortMapping[];
  /** Provisioner-specific facts safe to show (container id, pod name, directory). */
  details?: Record<string, string | number | boolean>;
}

/** How to run a process in a workspace. */
export interface ExecOptions {
  /** argv; empty means the workspace's interactive shell. */
  cmd: string[];
  tty: boolean;
  cols?: number;
  rows?: number;
  /** Extra environment on top of WorkspaceContext.env. */
  env?: Record<string, string>;
  /** Working directory; default the repo checkout (`<mountPath>/work`). */
  cwd?: string;
  signal?: AbortSignal;
}

/** A running process in a workspace. With `tty`, stderr is null and output arrives on stdout. */
export interface ExecProcess {
  stdin: Writable;
  stdout: Readable;
  stderr: Readable | null;
  resize(cols: number, rows: number): void;
  /** Ends the process (and its process group, where the runtime has one). */
  kill(signal?: NodeJS.Signals): void;
  /** Resolves with the exit code (null when killed by a signal) once the process ended and output is drained. */
  readonly exited: Promise<{ code: number | null; signal?: string }>;
}

/** The contract every runtime implements. */
export interface Provisioner {
  /** Instance name as users see it (`shell`, `docker-prod`). */
  readonly name: string;
  /** Implementation type, as its plug-in registered it. */
  readonly type: string;
  /** What this instance can do (its type's capabilities). */
  readonly capabilities: Capabilities;
  /** Most provision, stop and destroy calls the reconciler runs at once on this instance (its `maxConcurrentOps` option); undefined = no bound. */
  readonly maxConcurrentOps?: number;

  /**
   * Rejects, with an InputError, a spec this provisioner cannot honour beyond what its capabilities
   * say (paths, limits of the backend); called before anything is stored. Fields its capabilities
   * exclude are rejected by generic code (`assertSpecFits`) before this is called.
   */
  validate(spec: Spec): Promise<void>;

  /** Optional: verifies the backend answers and the options fit it (an admin adding the provisioner sees what is wrong). */
  check?(signal?: AbortSignal): Promise<void>;

  /**
   * Creates or adopts storage and runtime and leaves the workspace ready for exec: storage
   * created if absent, repo cloned into `work/` only if `work/.git` is absent, config files
   * written, setup commands run, runtime started. Safe to call again at any point.
   */
  provision(ws: WorkspaceContext, opts: OpOptions): Promise<RuntimeStatus>;

  /**
   * Runs teardown commands, then ends the runtime; storage is kept. No-op when already stopped.
   * Also quarantines orphans (resources without a workspace row, see server/orphans.ts), given a
   * minimal context: id only, default spec, no teardown commands. It must never touch storage.
   */
  stop(ws: WorkspaceContext, opts: OpOptions): Promise<void>;

  /** Removes runtime and storage (teardown first when the runtime is up). No-op when nothing is left. */
  destroy(ws: WorkspaceContext, opts: OpOptions): Promise<void>;

  /**
   * Observes the workspace's runtime and storage without changing them. When the backend cannot be
   * asked at all (connection refused, timeout, TLS failure: `isNetworkFailure` in core/errors.ts),
   * throws an UnreachableError and never answers `absent` or `failed`: the reconciler then shows the
   * workspace `unreachable` and leaves it alone until it is observed again. The same error from any
   * other call means the operation could not be carried out, and is redone once reachable. Runtimes
   * on the control plane's own host (shell) are never unreachable.
   */
  inspect(workspaceId: string, signal?: AbortSignal): Promise<RuntimeStatus>;

  /** Starts a process in a running workspace. */
  exec(ws: WorkspaceContext, opts: ExecOptions): Promise<ExecProcess>;

  /**
   * With `capabilities.fork`: creates the storage of `to` (which has none yet) as a copy of the
   * storage of `from` as it is now, while `from` may keep running: its checkout with uncommitted and
   * untracked files and everything else under the mount path, but none of its runtime state (process
   * records, running markers). Copy-on-write where the storage allows it. Idempotent: a copy cut
   * short is replaced by a whole one. `provision(to)` then adopts the copy instead of cloning.
   */
  copyStorage?(from: WorkspaceContext, to: WorkspaceContext, opts: OpOptions): Promise<void>;

  /**
   * With `capabilities.warmPool`: finishes a runtime that `provision` prepared under `ws.id` for no
   * user (no token, no files, no setup) for the workspace now holding that id, without recreating it:
   * writes the config files, runs the setup commands, and leaves it as `provision` would. Processes
   * started afterwards get `ws.env` (its token included) like in any other workspace.
   */
  adopt?(ws: WorkspaceContext, opts: OpOptions): Promise<RuntimeStatus>;

  /** Ids of every workspace this provisioner holds resources for, so the reconciler can remove orphans. */
  list(signal?: AbortSignal): Promise<string[]>;

  /** Releases clients and connections; running workspaces keep running. */
  close(): Promise<void>;
}
