/**
 * The `docker` provisioner: workspaces as containers on a local Docker engine (storage = a
 * directory per workspace, bind-mounted) or a remote one over tcp+TLS or ssh:// (storage = a named
 * volume per workspace). A thin adapter from the Provisioner contract to DockerRuntime, plus the
 * parts that belong to the control plane: options, engine checks, and how workspaces reach the
 * control plane's URL.
 */
import path from 'node:path';
import { InputError } from '../../core/errors.ts';
import type { Spec } from '../../core/spec.ts';
import { formatSize } from '../../core/units.ts';
import type { Capabilities, ExecOptions, ExecProcess, OpOptions, ProgressSink, Provisioner, ProvisionerPlugin, RuntimeStatus, WorkspaceContext } from '../provisioner.ts';
import { DockerEngine, isLocalHost } from './engine.ts';
import { Forwarders } from './forwarder.ts';
import { DockerOptionsSchema, checkDockerOptions, type DockerOptions } from './options.ts';
import { DockerRuntime, assertMountablePath, type ProvisionExtras, type RuntimeSettings } from './runtime.ts';
import { BindStorage, VolumeStorage, type WorkspaceStorage } from './storage.ts';

/** What the control plane hands every docker provisioner. */
export interface DockerProvisionerDeps {
  /** Marks everything this control plane creates on engines (labels), so control planes sharing an engine keep apart. */
  installation: string;
  /** Parent of default bind-storage roots (`<dataDir>/workspaces/<name>`). */
  dataDir: string;
  /** The control plane's URL as this host sees it; used to keep the bridge forwarder up after a restart. */
  serverUrl?: () => string;
  /** Shared forwarders from the Docker bridge to a loopback-only control plane. */
  forwarders?: Forwarders;
}

/** The name Docker gives the host inside workspaces (via an /etc/hosts entry Berth adds). */
export const HOST_ALIAS = 'host.docker.internal';

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || host === '::1' || /^127\./.test(host);
}

/** What the docker type can do: images, users, limits and private registries; workspaces reach the control plane over a network. */
export const dockerCapabilities: Capabilities = { runsOnHost: false, image: true, user: true, resources: true, registryLogins: true, needsServerUrl: true };

/** Runs workspaces as containers on one Docker engine. */
export class DockerProvisioner implements Provisioner {
  readonly type = 'docker';
  readonly capabilities = dockerCapabilities;
  private engineInfo: { NCPU?: number; MemTotal?: number } | undefined;
  private gateway: Promise<string | undefined> | undefined;
  private warnedUnreachable = false;

  private constructor(
    readonly name: string,
    readonly options: DockerOptions,
    readonly engine: DockerEngine,
    readonly storage: WorkspaceStorage,
    readonly runtime: DockerRuntime,
    private readonly settings: RuntimeSettings,
    private readonly deps: DockerProvisionerDeps,
  ) {}

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
    const storage: WorkspaceStorage = kind === 'bind' ? new BindStorage(options.root ?? path.join(deps.dataDir, 'workspaces', name)) : new VolumeStorage(engine, { installation: deps.installation, provisioner: name });
    const p = new DockerProvisioner(name, options, engine, storage, new DockerRuntime(engine, storage, settings), settings, deps);
    // Limits are checked against the engine when it answers; a slow or absent engine only skips that check.
    void p.refreshInfo().catch(() => undefined);
    return p;
  }

  private async refreshInfo(): Promise<void> {
    const info = await this.engine.info();
    this.engineInfo = { ...(info.NCPU ? { NCPU: info.NCPU } : {}), ...(info.MemTotal ? { MemTotal: info.MemTotal } : {}) };
  }

  /** Verifies engine, TLS and network; an admin adding the provisioner sees what is wrong. */
  async check(): Promise<void> {
    await this.engine.ping();
    await this.refreshInfo();
    if (this.options.network && !['bridge', 'host', 'none'].includes(this.options.network) && !(await this.engine.hasNetwork(this.options.network))) {
      throw new InputError(`The Docker engine at ${this.engine.where} has no network "${this.options.network}"; create it (docker network create ${this.options.network}) or choose another.`);
    }
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

  /**
   * How workspaces reach the control plane. An explicit `serverUrl` option wins. A control plane
   * on loopback is made reachable from a local engine's bridge by a forwarder on the bridge
   * gateway, named `host.docker.internal` inside containers. Otherwise the URL is used unchanged.
   */
  private async serverUrlFor(hostUrl: string | undefined, progress?: ProgressSink): Promise<ProvisionExtras['serverUrl']> {
    if (!hostUrl) return undefined;
    if (this.options.serverUrl) return { host: hostUrl, workspace: this.options.serverUrl.replace(/\/+$/, '') };
    let u: URL;
    try {
      u = new URL(hostUrl);
    } catch {
      return undefined;
    }
    if (!isLoopback(u.hostname) || this.settings.network === 'host' || this.settings.network === 'none') return undefined;
    if (this.storage.kind !== 'bind' || !this.deps.forwarders) {
      if (!this.warnedUnreachable) progress?.(`Workspaces on ${this.engine.where} cannot reach the control plane at ${hostUrl} (loopback); give the provisioner a --server-url they can reach.`, 'info');
      this.warnedUnreachable = true;
      return undefined;
    }
    this.gateway ??= this.engine.networkGateway('bridge').catch((err: unknown) => {
      this.gateway = undefined;
      throw err;
    });
    const gw = await this.gateway;
    if (!gw) return undefined;
    this.settings.extraHosts = [`${HOST_ALIAS}:${gw}`];
    const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
    const fwdPort = await this.deps.forwarders.ensure(gw, port, { host: u.hostname.replace(/^\[|\]$/g, ''), port });
    return { host: hostUrl.replace(/\/+$/, ''), workspace: `${u.protocol}//${HOST_ALIAS}:${fwdPort}` };
  }

  /** The context as the workspace sees it: BERTH_SERVER_URL is the address that works from inside the container. */
  private async inWorkspace(ws: WorkspaceContext, progress?: ProgressSink): Promise<{ ws: WorkspaceContext; serverUrl: ProvisionExtras['serverUrl'] }> {
    const serverUrl = await this.serverUrlFor(ws.env.BERTH_SERVER_URL, progress).catch(() => undefined);
    if (!serverUrl) return { ws, serverUrl };
    return { ws: { ...ws, env: { ...ws.env, BERTH_SERVER_URL: serverUrl.workspace } }, serverUrl };
  }

  async provision(ws: WorkspaceContext, opts: OpOptions): Promise<RuntimeStatus> {
    const serverUrl = await this.serverUrlFor(ws.env.BERTH_SERVER_URL, opts.progress);
    return this.runtime.provision(ws, opts, serverUrl ? { serverUrl } : {});
  }

  async stop(ws: WorkspaceContext, opts: OpOptions): Promise<void> {
    return this.runtime.stop((await this.inWorkspace(ws)).ws, opts);
  }

  async destroy(ws: WorkspaceContext, opts: OpOptions): Promise<void> {
    return this.runtime.destroy((await this.inWorkspace(ws)).ws, opts);
  }

  async inspect(workspaceId: string): Promise<RuntimeStatus> {
    const status = await this.runtime.inspect(workspaceId);
    // After a control-plane restart, running workspaces still use the forwarder's address: bring it back.
    if (status.state === 'running' && this.deps.serverUrl) await this.serverUrlFor(this.deps.serverUrl()).catch(() => undefined);
    return status;
  }

  async exec(ws: WorkspaceContext, opts: ExecOptions): Promise<ExecProcess> {
    return this.runtime.exec((await this.inWorkspace(ws)).ws, opts);
  }

  list(): Promise<string[]> {
    return this.runtime.list();
  }

  /** Closes the bridge forwarders (shared; the next provisioner that needs one opens it again). */
  async close(): Promise<void> {
    await this.deps.forwarders?.close();
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
    create: (name, options, ctx) => DockerProvisioner.create(name, options, { installation: ctx.installation, dataDir: ctx.dataDir, serverUrl: ctx.serverUrl, forwarders }),
    // The engine the docker CLI would use, registered as "docker" when it answers at start.
    builtins: (_ctx, env) => [{ name: 'docker', options: optionsFromEnv(env), probe: true }],
  };
}
