/**
 * The `docker` provisioner: workspaces as containers on a local Docker engine (storage = a
 * directory per workspace, bind-mounted) or a remote one over tcp+TLS or ssh:// (storage = a named
 * volume per workspace). A thin adapter from the Provisioner contract to DockerRuntime, plus the
 * parts that belong to the control plane: options, engine checks, and how workspaces reach the
 * control plane's URL.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import { InputError, errorMessage, isUnreachable } from '../../core/errors.ts';
import type { Spec } from '../../core/spec.ts';
import { formatSize } from '../../core/units.ts';
import { DEFAULT_MAX_CONCURRENT_OPS, type Capabilities, type ExecOptions, type ExecProcess, type OpOptions, type Provisioner, type ProvisionerPlugin, type RuntimeStatus, type WorkspaceContext } from '../provisioner.ts';
import { copyDockerStorage } from './copy.ts';
import { DockerEngine, isLocalHost } from './engine.ts';
import { Forwarders } from './forwarder.ts';
import { DockerOptionsSchema, checkDockerOptions, type DockerOptions } from './options.ts';
import { HOST_ALIAS, decideRoute, probeReach, unreachableSentence, unreachableWhy, type Route } from './reach.ts';
import { DockerRuntime, assertMountablePath, type RuntimeSettings } from './runtime.ts';
import { BindStorage, LABELS, VolumeStorage, type WorkspaceStorage } from './storage.ts';

/** What the control plane hands every docker provisioner. */
export interface DockerProvisionerDeps {
  /** Marks everything this control plane creates on engines (labels), so control planes sharing an engine keep apart. */
  installation: string;
  /** Parent of default bind-storage roots (`<dataDir>/workspaces/<name>`). */
  dataDir: string;
  /** The control plane's URL as this host sees it; checked at `provisioner add` and used to bring the bridge forwarder back at start. */
  serverUrl?: () => string;
  /** Resolves once the control plane listens, so that `serverUrl` is final and answers. */
  listening?: Promise<void>;
  /** Shared forwarders from the Docker bridge to a loopback-only control plane. */
  forwarders?: Forwarders;
  /** Where a reachability check that could not run is recorded. */
  logger?: Logger;
  /** Storage laid out by the caller (the agent's root) instead of the one the options choose. */
  storage?: WorkspaceStorage;
}

/** What the docker type can do: images, users, limits and private registries; workspaces reach the control plane over a network. */
export const dockerCapabilities: Capabilities = { runsOnHost: false, image: true, user: true, resources: true, registryLogins: true, needsServerUrl: true, fork: true, warmPool: true };

/** The URL workspaces get, and whether they can reach it (with why not). */
type Reach = { url: string; reachable: true } | { url: string; reachable: false; why: string };

/** Runs workspaces as containers on one Docker engine. */
export class DockerProvisioner implements Provisioner {
  readonly type = 'docker';
  readonly capabilities = dockerCapabilities;
  /** Bursts wait in line beyond this (server/op-queue.ts) instead of overloading the engine. */
  readonly maxConcurrentOps: number;
  private engineInfo: { NCPU?: number; MemTotal?: number } | undefined;
  private routed: { hostUrl: string; route: Promise<Route> } | undefined;
  private listening = false;
  private closed = false;

  private constructor(
    readonly name: string,
    readonly options: DockerOptions,
    readonly engine: DockerEngine,
    readonly storage: WorkspaceStorage,
    readonly runtime: DockerRuntime,
    private readonly settings: RuntimeSettings,
    private readonly deps: DockerProvisionerDeps,
  ) {
    this.maxConcurrentOps = options.maxConcurrentOps ?? DEFAULT_MAX_CONCURRENT_OPS;
  }

  /** Builds an instance from stored options. Makes no request that must succeed: the engine may come up later. */
  static async create(name: string, options: DockerOptions, deps: DockerProvisionerDeps): Promise<DockerProvisioner> {
    const engine = DockerEngine.connect(options);
    const local = isLocalHost(options);
    const kind = options.storage ?? (local ? 'bind' : 'volume');
    const settings: RuntimeSettings = {
      installation: deps.installation,
      provisioner: name,
      network: options.network ?? 'bridge',
      allowPorts: options.allowPorts ?? false,
      allowDockerSocket: options.allowDockerSocket ?? false,
      ...(options.defaultImage ? { defaultImage: options.defaultImage } : {}),
    };
    const storage: WorkspaceStorage = deps.storage ?? (kind === 'bind' ? new BindStorage(options.root ?? path.join(deps.dataDir, 'workspaces', name)) : new VolumeStorage(engine, { installation: deps.installation, provisioner: name }));
    const p = new DockerProvisioner(name, options, engine, storage, new DockerRuntime(engine, storage, settings), settings, deps);
    deps.forwarders?.acquire();
    // Limits are checked against the engine when it answers; a slow or absent engine only skips that check.
    void p.refreshInfo().catch(() => undefined);
    void deps.listening?.then(() => p.onListening());
    return p;
  }

  private async refreshInfo(): Promise<void> {
    const info = await this.engine.info();
    this.engineInfo = { ...(info.NCPU ? { NCPU: info.NCPU } : {}), ...(info.MemTotal ? { MemTotal: info.MemTotal } : {}) };
  }

  /**
   * Running workspaces keep the forwarder address they were started with, and their processes may
   * use it at any time (a push from a detached shell), so the forwarder comes back as soon as the
   * control plane listens. Failures are left to the next provision or exec.
   */
  private onListening(): void {
    this.listening = true;
    const url = this.deps.serverUrl?.();
    if (url && this.deps.forwarders && !this.closed) void this.reach(url).catch(() => undefined);
  }

  /** Verifies engine, TLS and network, then that workspaces reach the control plane; an admin adding the provisioner sees what is wrong. */
  async check(signal?: AbortSignal): Promise<void> {
    await this.engine.ping(signal);
    await this.refreshInfo();
    if (this.options.network && !['bridge', 'host', 'none'].includes(this.options.network) && !(await this.engine.hasNetwork(this.options.network))) {
      throw new InputError(`The Docker engine at ${this.engine.where} has no network "${this.options.network}"; create it (docker network create ${this.options.network}) or choose another.`);
    }
    const hostUrl = this.deps.serverUrl?.();
    // --network none cuts workspaces off on purpose; their events say what that means.
    if (hostUrl && this.capabilities.needsServerUrl && this.settings.network !== 'none') await this.checkReach(hostUrl, signal);
  }

  /**
   * Refuses a provisioner whose workspaces cannot reach the control plane: known from the route
   * (a loopback URL on a remote engine), else found by a probe from a short-lived container. Runs
   * only once the control plane listens (built-in instances are checked before that). A probe that
   * cannot run (no image with a tool) is logged, not refused.
   */
  private async checkReach(hostUrl: string, signal?: AbortSignal): Promise<void> {
    if (!this.listening) {
      this.deps.logger?.info({ provisioner: this.name, url: hostUrl }, 'reachability of the control plane from workspaces not checked: it does not listen yet');
      return;
    }
    const reach = await this.reach(hostUrl);
    if (!reach.reachable) throw new InputError(unreachableSentence(this.engine.where, reach.url, reach.why));
    const res = await probeReach(this.engine, {
      url: reach.url,
      network: this.settings.network,
      extraHosts: this.settings.extraHosts,
      preferred: this.settings.defaultImage ? [this.settings.defaultImage] : [],
      labels: { [LABELS.installation]: this.settings.installation, [LABELS.provisioner]: this.name, [LABELS.kind]: 'probe' },
      signal,
    });
    if ('skipped' in res) {
      this.deps.logger?.warn({ provisioner: this.name, url: reach.url }, `Could not check that workspaces on ${this.engine.where} reach the control plane at ${reach.url}: ${res.skipped}.`);
      return;
    }
    if (!res.reachable) throw new InputError(unreachableSentence(this.engine.where, reach.url, res.why));
  }

  async validate(spec: Spec): Promise<void> {
    if (!this.runtime.image(spec)) {
      throw new InputError(`The docker provisioner "${this.name}" needs an image: pass --image IMAGE (spec.image), or give the provisioner a default image.`);
    }
    const r = spec.resources;
    if (r.disk !== undefined) throw new InputError('spec.resources.disk is not supported by the docker provisioner (Docker cannot cap a bind directory or volume); remove it.');
    if (r.cpus !== undefined && r.cpus < 0.01) throw new InputError(`spec.resources.cpus must be at least 0.01; got ${r.cpus}.`);
    const ncpu = this.engineInfo?.NCPU;
    if (r.cpus !== undefined && ncpu && r.cpus > ncpu) throw new InputError(`spec.resources.cpus is ${r.cpus}, but the Docker engine at ${this.engine.where} has only ${ncpu} CPU${ncpu > 1 ? 's' : ''}.`);
    const mem = this.engineInfo?.MemTotal;
    if (r.memory !== undefined && mem && r.memory > mem) {
      throw new InputError(`spec.resources.memory is ${formatSize(r.memory)}, more than the ${formatSize(mem)} the Docker engine at ${this.engine.where} has.`);
    }
    spec.userData.forEach((p, i) => assertMountablePath(p, `spec.userData[${i}]`));
    spec.caches.forEach((p, i) => assertMountablePath(p, `spec.caches[${i}]`));
    spec.files.forEach((f, i) => assertMountablePath(f.path, `spec.files[${i}].path`));
  }

  /** The route for the control plane's URL, decided once per URL (a failed engine lookup is tried again next time). */
  private routeFor(hostUrl: string): Promise<Route> {
    if (this.routed?.hostUrl !== hostUrl) {
      const route = decideRoute({
        hostUrl,
        serverUrl: this.options.serverUrl,
        network: this.settings.network,
        local: isLocalHost(this.options),
        canForward: Boolean(this.deps.forwarders),
        hostAddress: () => this.engine.hostAddress(this.settings.network, isLocalHost(this.options)),
      }).catch((err: unknown) => {
        this.routed = undefined;
        throw err;
      });
      this.routed = { hostUrl, route };
    }
    return this.routed.route;
  }

  /**
   * How workspaces reach the control plane: the URL they get, with the forwarder it needs opened
   * (on this host's address on their network, named `host.docker.internal` inside containers).
   */
  private async reach(hostUrl: string): Promise<Reach> {
    const route = await this.routeFor(hostUrl);
    if (route.kind !== 'forward') return route.kind === 'direct' ? { url: route.url, reachable: true } : { url: route.url, reachable: false, why: route.why };
    let port: number;
    try {
      port = await this.deps.forwarders!.ensure(route.address, route.target.port, route.target);
    } catch (err) {
      return { url: hostUrl.replace(/\/+$/, ''), reachable: false, why: `it listens on this machine only, and a forwarder for the workspaces cannot listen on ${route.address}: ${errorMessage(err)}` };
    }
    this.settings.extraHosts = [`${HOST_ALIAS}:${route.address}`];
    return { url: `${route.protocol}//${HOST_ALIAS}:${port}`, reachable: true };
  }

  /** The context as the workspace sees it: BERTH_SERVER_URL is the address that works from inside the container. */
  private async inWorkspace(ws: WorkspaceContext): Promise<WorkspaceContext> {
    const hostUrl = ws.env.BERTH_SERVER_URL;
    const reach = hostUrl ? await this.reach(hostUrl).catch(() => undefined) : undefined;
    return reach ? { ...ws, env: { ...ws.env, BERTH_SERVER_URL: reach.url } } : ws;
  }

  /** Adds to what the runtime observed whether the workspace can reach the URL it was given (`serverUrl`, read from the container). */
  private withReachability(status: RuntimeStatus): RuntimeStatus {
    const url = status.details?.serverUrl;
    if (typeof url === 'string' && unreachableWhy(url, { network: this.settings.network, local: isLocalHost(this.options) })) status.details!.serverReachable = false;
    return status;
  }

  async provision(ws: WorkspaceContext, opts: OpOptions): Promise<RuntimeStatus> {
    const hostUrl = ws.env.BERTH_SERVER_URL?.replace(/\/+$/, '');
    const reach = hostUrl ? await this.reach(hostUrl) : undefined;
    // Said on every start, in the workspace's own events: nothing else would tell its owner why a push from inside fails.
    if (reach && !reach.reachable) opts.progress(unreachableSentence(this.engine.where, reach.url, reach.why, this.settings.network), 'info');
    const serverUrl = hostUrl && reach && reach.url !== hostUrl ? { serverUrl: { host: hostUrl, workspace: reach.url } } : {};
    return this.withReachability(await this.runtime.provision(ws, opts, serverUrl));
  }

  /** A fork's storage: a copy of the source's directory on this host, or of its volume through a helper container (copy.ts). */
  async copyStorage(from: WorkspaceContext, to: WorkspaceContext, opts: OpOptions): Promise<void> {
    return copyDockerStorage(this.runtime, from, to, opts);
  }

  /** A warm-pool container becomes the workspace's without being recreated (runtime.ts). */
  async adopt(ws: WorkspaceContext, opts: OpOptions): Promise<RuntimeStatus> {
    return this.withReachability(await this.runtime.adopt(await this.inWorkspace(ws), opts));
  }

  async stop(ws: WorkspaceContext, opts: OpOptions): Promise<void> {
    return this.runtime.stop(await this.inWorkspace(ws), opts);
  }

  async destroy(ws: WorkspaceContext, opts: OpOptions): Promise<void> {
    return this.runtime.destroy(await this.inWorkspace(ws), opts);
  }

  /** Observes only: container, storage and the URL the workspace was given; opens nothing. */
  async inspect(workspaceId: string): Promise<RuntimeStatus> {
    const status = await this.runtime.inspect(workspaceId).catch((err: unknown) => {
      if (isUnreachable(err)) this.runtime.renewTerminalMark();
      throw err;
    });
    return this.withReachability(status);
  }

  async exec(ws: WorkspaceContext, opts: ExecOptions): Promise<ExecProcess> {
    return this.runtime.exec(await this.inWorkspace(ws), opts);
  }

  list(): Promise<string[]> {
    return this.runtime.list();
  }

  /** Gives up this provisioner's share of the bridge forwarders (the last one closes them). */
  async close(): Promise<void> {
    this.closed = true;
    await this.deps.forwarders?.release();
  }
}

/** The options of the engine the docker CLI would use: DOCKER_HOST, DOCKER_CERT_PATH, DOCKER_TLS_VERIFY, else the local socket. */
function optionsFromEnv(env: NodeJS.ProcessEnv): DockerOptions {
  return {
    ...(env.DOCKER_HOST ? { dockerHost: env.DOCKER_HOST } : {}),
    ...(env.DOCKER_CERT_PATH ? { tlsCertPath: env.DOCKER_CERT_PATH } : {}),
    ...(env.DOCKER_TLS_VERIFY === '0' ? { tlsVerify: false } : {}),
  };
}

/** The `docker` type; its instances share the forwarders that let containers reach a loopback-only control plane. */
export function dockerPlugin(): ProvisionerPlugin<typeof DockerOptionsSchema> {
  const forwarders = new Forwarders();
  return {
    type: 'docker',
    summary: 'Containers on a Docker engine: local (a directory per workspace) or remote over tcp+TLS or ssh:// (a named volume per workspace).',
    options: DockerOptionsSchema,
    capabilities: dockerCapabilities,
    checkOptions: checkDockerOptions,
    create: (name, options, ctx) =>
      DockerProvisioner.create(name, options, { installation: ctx.installation, dataDir: ctx.dataDir, serverUrl: ctx.serverUrl, listening: ctx.listening, forwarders, logger: ctx.logger }),
    // The engine the docker CLI would use, registered as "docker" when it answers at start.
    builtins: (_ctx, env) => [{ name: 'docker', options: optionsFromEnv(env), probe: true }],
  };
}
