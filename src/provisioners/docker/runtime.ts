/**
 * DockerRuntime: the workspace lifecycle on one Docker engine — provision (storage, image, fresh
 * container, checkout, files, setup), stop, destroy, inspect, exec and list. It knows nothing about
 * the control plane: the `docker` provisioner drives it from the reconciler, and the remote
 * `berth agent` drives it from desired state it keeps on its own host.
 *
 * Naming: one container per workspace, `berth-<id>`, so a second create after a crash finds the
 * first instead of adding a duplicate; storage and shared stores are labelled with the
 * installation and provisioner that own them, so two control planes on one engine never collect
 * each other's workspaces as orphans.
 */
import fs from 'node:fs';
import type Docker from 'dockerode';
import { InputError, ProvisionerError, errorMessage, throwIfAborted } from '../../core/errors.ts';
import type { Spec } from '../../core/spec.ts';
import { formatSize } from '../../core/units.ts';
import { terminalNonce, tmuxScript } from '../tmux.ts';
import type { ExecOptions, ExecProcess, OpOptions, PortMapping, RuntimeStatus, WorkspaceContext } from '../provisioner.ts';
import type { DockerEngine } from './engine.ts';
import { ProvisionSteps, fileEntries, type ProvisionRun } from './provision-steps.ts';
import { tarStream } from './tar.ts';
import { LABELS, checkId, sharedKey, type SharedStore, type WorkspaceStorage } from './storage.ts';
import { expandHome, resolveUser, type ContainerUser } from '../image-users.ts';

/** Capabilities a development shell needs (package managers, file ownership, signals); everything else is dropped. */
export const DEV_CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'NET_BIND_SERVICE'];

/**
 * PID 2 of every workspace container (docker-init is PID 1 and reaps zombies): sleeps until told
 * to stop. Plain POSIX sh, so it works on busybox and full distributions alike.
 */
export const KEEPALIVE = "trap 'exit 0' TERM INT HUP; while :; do sleep 86400 & wait $!; done";

/** Runtime settings chosen by the operator (provisioner options), not by workspace owners. */
export interface RuntimeSettings {
  /** Label values that mark what this runtime owns. */
  installation: string;
  provisioner: string;
  /** Docker network for workspace containers (default `bridge`). */
  network: string;
  /** Publish spec.ports on the engine host's 127.0.0.1. */
  allowPorts: boolean;
  /** Mount the engine's socket into workspaces. */
  allowDockerSocket: boolean;
  /** Image used when the spec names none. */
  defaultImage?: string;
  /** Extra /etc/hosts entries for workspace containers (e.g. host.docker.internal → bridge gateway). */
  extraHosts?: string[];
}

/** Per-operation extras from the caller. */
export interface ProvisionExtras {
  /** The control plane's URL as the host sees it and as workspaces see it, when they differ. */
  serverUrl?: { host: string; workspace: string };
}

const MOUNT_FORBIDDEN = /^\/(proc|sys|dev)(\/|$)/;

/** The workspace container's name on the engine. */
export function containerName(id: string): string {
  return `berth-${checkId(id)}`;
}

function firstLine(s: string): string {
  const line = s.split('\n')[0]!;
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}

/** Runs workspaces as containers on one engine. */
export class DockerRuntime {
  /** Resolved users per image id and user string; images are immutable, so this never goes stale. */
  private readonly users = new Map<string, ContainerUser>();
  /** Unique per runtime instance: TTY shells started by an earlier control plane are recognisable by it. */
  private nonce = terminalNonce();
  /** The steps provision() runs; per-provision state lives in each run, not here. */
  private readonly steps: ProvisionSteps;

  /**
   * Called when the engine could not be reached: every exec connection through it was cut, but the
   * tmux clients inside still count as attached. A fresh mark makes the next terminal take their
   * sessions over, as after a control-plane restart.
   */
  renewTerminalMark(): void {
    this.nonce = terminalNonce();
  }
  private readonly oomCache = new Map<string, { at: number; count: number }>();
  private readonly oomNoted = new Map<string, number>();

  constructor(
    readonly engine: DockerEngine,
    readonly storage: WorkspaceStorage,
    readonly settings: RuntimeSettings,
  ) {
    this.steps = new ProvisionSteps(this);
  }

  private labels(ws?: WorkspaceContext): Record<string, string> {
    return {
      [LABELS.installation]: this.settings.installation,
      [LABELS.provisioner]: this.settings.provisioner,
      ...(ws
        ? { [LABELS.kind]: 'workspace', [LABELS.workspace]: ws.id, [LABELS.name]: ws.name, [LABELS.owner]: ws.owner.name, [LABELS.project]: ws.project.name }
        : {}),
    };
  }

  /** The image a workspace runs: the spec's, else the runtime's default. */
  image(spec: Spec): string | undefined {
    return spec.image ?? this.settings.defaultImage;
  }

  /** Shared stores (user data per owner, caches per project) a workspace mounts. */
  sharedStores(ws: WorkspaceContext): SharedStore[] {
    return [
      ...ws.spec.userData.map((p) => ({ key: sharedKey(this.settings.installation, 'userdata', ws.owner.id, p), kind: 'userdata' as const, scope: ws.owner.id, path: p })),
      ...ws.spec.caches.map((p) => ({ key: sharedKey(this.settings.installation, 'cache', ws.project.name, p), kind: 'cache' as const, scope: ws.project.name, path: p })),
    ];
  }

  // ---------------------------------------------------------------- images and users

  /** Resolves the run-as user against the image's /etc/passwd, read from `containerId` or from a short-lived probe container. */
  async user(image: Docker.ImageInspectInfo, userSpec: string | undefined, imageRef: string, containerId?: string): Promise<ContainerUser> {
    const u = userSpec ?? image.Config?.User ?? '';
    const key = `${image.Id}\0${u}`;
    const cached = this.users.get(key);
    if (cached) return cached;
    let from = containerId;
    let probe: string | undefined;
    try {
      if (!from) {
        probe = await this.engine.createContainer({
          Image: image.Id,
          Entrypoint: ['/bin/sh'],
          Cmd: [],
          Labels: { ...this.labels(), [LABELS.kind]: 'probe' },
          HostConfig: { NetworkMode: 'none', CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges:true'] },
        });
        from = probe;
      }
      const [passwd, group] = await Promise.all([this.engine.readFile(from, '/etc/passwd'), this.engine.readFile(from, '/etc/group')]);
      const resolved = resolveUser(u, passwd?.toString() ?? '', group?.toString() ?? '', imageRef);
      this.users.set(key, resolved);
      return resolved;
    } finally {
      if (probe) await this.engine.removeContainer(probe).catch(() => undefined);
    }
  }

  /**
   * The run-as user of an existing workspace container. Docker fills the container's `User` from
   * the image when the spec sets none, so a user already resolved for this image is found without
   * inspecting the image again (every exec and teardown would otherwise cost one more request).
   */
  private async containerUser(c: Docker.ContainerInspectInfo, userSpec: string | undefined): Promise<ContainerUser> {
    const cached = this.users.get(`${c.Image}\0${userSpec ?? c.Config.User ?? ''}`);
    if (cached) return cached;
    const image = await this.engine.inspectImage(c.Image);
    return image ? this.user(image, userSpec, c.Config.Image, c.Id) : resolveUser('', '', '', c.Config.Image);
  }

  // ---------------------------------------------------------------- provision

  /**
   * Creates or adopts storage and a fresh container and leaves the workspace ready for exec. Each
   * step looks at what is already there, so a provision run again after a crash at any point converges.
   */
  async provision(host: WorkspaceContext, opts: OpOptions, extras: ProvisionExtras = {}): Promise<RuntimeStatus> {
    const steps = this.steps;
    const run = await steps.resolveImage(host, opts, extras.serverUrl);
    try {
      await steps.ensureStorage(run);
      await steps.readHostCheckout(run);
      await steps.startContainer(run);
      await steps.readVolumeCheckout(run);
      await steps.upload(run);
      await steps.installTrust(run);
      await this.runCommands(run.containerId!, run.ws, run.user!, 'setup', opts);
      return await this.inspect(run.ws.id);
    } catch (err) {
      if (!opts.signal.aborted) await this.undoFailedProvision(run, err);
      throw err;
    }
  }

  /**
   * A warm-pool container, prepared under this id with storage, checkout and trust, becomes the
   * workspace's as it is: its config files go in and its setup runs, without a new container.
   */
  async adopt(ws: WorkspaceContext, opts: OpOptions): Promise<RuntimeStatus> {
    const c = await this.engine.inspectContainer(containerName(ws.id));
    if (!c?.State.Running) throw new ProvisionerError(`The prepared container of workspace "${ws.name}" is not running; it is provisioned again.`, { code: 'not_running' });
    const u = await this.containerUser(c, ws.spec.user);
    if (ws.spec.files.length) {
      await this.engine.putArchive(c.Id, '/', tarStream(fileEntries(ws, u)), opts.signal);
      opts.progress(`Wrote ${ws.spec.files.length} config file(s).`, 'info');
    }
    await this.runCommands(c.Id, ws, u, 'setup', opts);
    return this.inspect(ws.id);
  }

  /** A workspace whose very first provision failed for good leaves nothing behind; a later one loses only the container. */
  private async undoFailedProvision(run: ProvisionRun, err: unknown): Promise<void> {
    const permanent = !(err instanceof ProvisionerError) || !err.retryable;
    if (!permanent) return;
    if (run.fresh) {
      run.opts.progress('Removing what this failed first provision created.', 'info');
      await this.engine.removeContainer(containerName(run.ws.id)).catch(() => undefined);
      await this.removeStorage(run.ws.id).catch(() => undefined);
    } else if (run.containerId) {
      await this.engine.removeContainer(run.containerId).catch(() => undefined);
    }
  }

  /** The container create request: mounts, env, limits, user, labels and hardened defaults. */
  containerSpec(ws: WorkspaceContext, image: Docker.ImageInspectInfo, imageRef: string, user: ContainerUser | undefined): Docker.ContainerCreateOptions {
    const s = ws.spec;
    const home = user?.home ?? '/root';
    const env: Record<string, string> = { ...ws.env, BERTH_WORKDIR: `${s.mountPath}/work` };
    const mounts: Docker.MountSettings[] = [this.storage.mount(ws.id, s.mountPath)];
    for (const st of this.sharedStores(ws)) mounts.push(this.storage.sharedMount(st.key, expandHome(st.path, home)));
    const groupAdd: string[] = [];
    if (this.settings.allowDockerSocket) {
      mounts.push({ Type: 'bind', Source: '/var/run/docker.sock', Target: '/var/run/docker.sock' });
      try {
        if (this.storage.kind === 'bind') groupAdd.push(String(fs.statSync('/var/run/docker.sock').gid));
      } catch {
        /* no local socket to take the group from */
      }
    }
    const exposed: Record<string, object> = {};
    const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
    for (const p of s.ports) {
      exposed[`${p.port}/${p.protocol}`] = {};
      if (this.settings.allowPorts) bindings[`${p.port}/${p.protocol}`] = [{ HostIp: '127.0.0.1', HostPort: '' }];
    }
    const r = s.resources;
    const host: Docker.HostConfig = {
      Mounts: mounts,
      Init: true,
      Privileged: false,
      CapDrop: ['ALL'],
      CapAdd: DEV_CAPABILITIES,
      SecurityOpt: ['no-new-privileges:true'],
      NetworkMode: this.settings.network,
      RestartPolicy: { Name: 'no' },
      ...(r.cpus !== undefined ? { NanoCpus: Math.round(r.cpus * 1e9) } : {}),
      ...(r.memory !== undefined ? { Memory: r.memory, MemorySwap: r.memory } : {}),
      ...(r.pids !== undefined ? { PidsLimit: r.pids } : {}),
      ...(Object.keys(bindings).length ? { PortBindings: bindings } : {}),
      ...(groupAdd.length ? { GroupAdd: groupAdd } : {}),
      ...(this.settings.extraHosts?.length && this.settings.network !== 'none' && this.settings.network !== 'host' ? { ExtraHosts: this.settings.extraHosts } : {}),
    };
    return {
      name: containerName(ws.id),
      Image: image.Id,
      Hostname: ws.name.slice(0, 63),
      Entrypoint: ['/bin/sh', '-c', KEEPALIVE],
      Cmd: [],
      WorkingDir: s.mountPath,
      Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      Labels: { ...this.labels(ws), 'berth.image': imageRef },
      ...(s.user ? { User: s.user } : {}),
      ...(Object.keys(exposed).length ? { ExposedPorts: exposed } : {}),
      HostConfig: host,
    };
  }

  /** The shell that runs setup commands and terminals. */
  private shell(ws: WorkspaceContext, u: ContainerUser): string {
    return ws.spec.shell ?? u.shell ?? '/bin/sh';
  }

  private execEnv(ws: WorkspaceContext, u: ContainerUser, extra: Record<string, string> = {}): string[] {
    const env = { ...ws.env, BERTH_WORKDIR: `${ws.spec.mountPath}/work`, SHELL: this.shell(ws, u), HOME: u.home, ...extra };
    return Object.entries(env).map(([k, v]) => `${k}=${v}`);
  }

  /**
   * How many processes the kernel killed for memory in the container's cgroup, read from inside
   * (cgroup v1 memory.oom_control, or v2 memory.events). Engine events are not used: not every
   * engine emits them for processes other than the container's init. Cached for `maxAgeMs`.
   */
  async oomKills(containerId: string, maxAgeMs = 0): Promise<number> {
    const cached = this.oomCache.get(containerId);
    if (cached && Date.now() - cached.at < maxAgeMs) return cached.count;
    let text = '';
    const res = await this.engine
      .run(containerId, {
        cmd: ['/bin/sh', '-c', 'cat /sys/fs/cgroup/memory/memory.oom_control 2>/dev/null || cat /sys/fs/cgroup/memory.events 2>/dev/null'],
        user: '0',
        trackPid: false,
        onLine: (l) => (text += `${l}\n`),
      })
      .catch(() => undefined);
    const m = /^oom_kill (\d+)$/m.exec(text);
    const count = res?.code === 0 && m ? Number(m[1]) : (cached?.count ?? 0);
    this.oomCache.set(containerId, { at: Date.now(), count });
    if (this.oomCache.size > 1000) this.oomCache.delete(this.oomCache.keys().next().value!);
    return count;
  }

  /** A sentence explaining an exit by SIGKILL when the container's memory limit caused it. */
  private async oomNote(containerId: string, code: number | null, limit: number | undefined): Promise<string | undefined> {
    if (code !== 137 || !limit) return undefined;
    // Compared with the count at the last note (not the inspect cache), so an inspect in between cannot hide this kill.
    const before = this.oomNoted.get(containerId) ?? 0;
    const now = await this.oomKills(containerId);
    this.oomNoted.set(containerId, now);
    if (now <= before) return undefined;
    return `the process was killed because the workspace ran out of memory (limit ${formatSize(limit)})`;
  }

  /** Setup commands and terminals need the workspace's shell: an image without it is said in one sentence, not as exit code 127. */
  async assertShell(id: string, ws: WorkspaceContext, u: ContainerUser, image: string): Promise<void> {
    const shell = this.shell(ws, u);
    if (await this.engine.pathExists(id, shell)) return;
    const fix = ws.spec.shell
      ? 'set spec.shell to a shell the image has, such as /bin/sh'
      : u.shell
        ? `fix the login shell of user ${u.name ?? u.uid} in the image's /etc/passwd, or set spec.shell`
        : 'setup commands and terminals run in it; use an image with a POSIX shell, or set spec.shell to the shell the image has';
    throw new ProvisionerError(`Image ${image} has no ${shell}; ${fix}.`, { retryable: false, code: 'invalid_spec' });
  }

  private async runCommands(id: string, ws: WorkspaceContext, u: ContainerUser, which: 'setup' | 'teardown', opts: OpOptions): Promise<void> {
    const list = ws.spec[which];
    for (const [i, command] of list.entries()) {
      throwIfAborted(opts.signal);
      opts.progress(`Running ${which} command ${i + 1}/${list.length}: ${firstLine(command)}`, 'info');
      let oom: string | undefined;
      const res = await this.engine.run(id, {
        cmd: [this.shell(ws, u), '-c', command],
        env: this.execEnv(ws, u),
        cwd: `${ws.spec.mountPath}/work`,
        signal: opts.signal,
        onLine: (l) => opts.progress(l, 'output'),
        annotateExit: async (code) => {
          oom = await this.oomNote(id, code, ws.spec.resources.memory);
          return undefined;
        },
      });
      throwIfAborted(opts.signal);
      if (res.code === 0) continue;
      const why = oom ? `was killed because the workspace ran out of memory (limit ${formatSize(ws.spec.resources.memory ?? 0)}); raise spec.resources.memory or make it use less` : `exited with code ${res.code ?? res.signal}`;
      if (which === 'teardown') {
        // A failing teardown must not keep a workspace from stopping; it is reported and we go on.
        opts.progress(`Teardown command ${i + 1} ${why}; continuing.`, 'info');
        continue;
      }
      throw new ProvisionerError(`Setup command ${i + 1} ${why}: ${firstLine(command)}`, { retryable: false, code: 'setup_failed', details: { command: i + 1 } });
    }
  }

  // ---------------------------------------------------------------- stop / destroy

  /** Runs teardown commands in a running container, then removes the container; storage stays. */
  async stop(ws: WorkspaceContext, opts: OpOptions): Promise<void> {
    const c = await this.engine.inspectContainer(containerName(ws.id));
    if (!c) return;
    if (c.State.Running && ws.spec.teardown.length) await this.teardown(c, ws, opts);
    await this.engine.removeContainer(c.Id);
    opts.progress('Removed the container; the workspace files are kept.', 'info');
  }

  private async teardown(c: Docker.ContainerInspectInfo, ws: WorkspaceContext, opts: OpOptions): Promise<void> {
    try {
      await this.runCommands(c.Id, ws, await this.containerUser(c, ws.spec.user), 'teardown', opts);
    } catch (err) {
      if (opts.signal.aborted) throw err;
      opts.progress(`Teardown could not run: ${errorMessage(err)}`, 'info');
    }
  }

  /** Removes container, storage, and the shared stores no other workspace uses. */
  async destroy(ws: WorkspaceContext, opts: OpOptions): Promise<void> {
    const c = await this.engine.inspectContainer(containerName(ws.id));
    if (c?.State.Running && ws.spec.teardown.length) await this.teardown(c, ws, opts);
    if (c) await this.engine.removeContainer(c.Id);
    if (await this.removeStorage(ws.id)) opts.progress('Removed the workspace container and storage.', 'info');
  }

  /** Removes storage and unshared stores of one workspace; true when there was something to remove. */
  private async removeStorage(id: string): Promise<boolean> {
    const meta = await this.storage.meta(id);
    // Metadata implies storage; only without it is existence asked separately (one volume inspect fewer).
    if (!meta && !(await this.storage.exists(id))) return false;
    if (meta?.shared.length) {
      const others = (await this.storage.metas()).filter((m) => m.id !== id);
      for (const key of meta.shared) if (!others.some((m) => m.shared.includes(key))) await this.storage.removeShared(key);
    }
    try {
      await this.storage.remove(id);
    } catch (err) {
      const dir = this.storage.hostDir(id);
      if (!dir || (err as NodeJS.ErrnoException).code !== 'EACCES' || !meta) throw err;
      // Files the workspace user created may be beyond the server user's reach: a short-lived root helper empties the directory.
      await this.emptyWithHelper(dir, meta.image);
      await this.storage.remove(id);
    }
    return true;
  }

  /** Empties a host directory from a helper container running as root (no network, minimal capabilities). */
  private async emptyWithHelper(dir: string, image: string): Promise<void> {
    const id = await this.engine.createContainer({
      Image: image,
      User: '0',
      Entrypoint: ['/bin/sh', '-c', 'rm -rf /target/* /target/.[!.]* /target/..?*'],
      Cmd: [],
      Labels: { ...this.labels(), [LABELS.kind]: 'helper' },
      HostConfig: { Mounts: [{ Type: 'bind', Source: dir, Target: '/target' }], NetworkMode: 'none', CapDrop: ['ALL'], CapAdd: ['DAC_OVERRIDE', 'FOWNER'], SecurityOpt: ['no-new-privileges:true'] },
    });
    try {
      await this.engine.startContainer(id);
      await this.engine.docker.getContainer(id).wait();
    } finally {
      await this.engine.removeContainer(id);
    }
  }

  // ---------------------------------------------------------------- inspect / list

  /** Observes container and storage. */
  async inspect(id: string): Promise<RuntimeStatus> {
    const [c, storage] = await Promise.all([this.engine.inspectContainer(containerName(id)), this.storage.exists(id)]);
    const mine = c && c.Config.Labels?.[LABELS.installation] === this.settings.installation;
    if (!c || !mine) return { state: storage ? 'stopped' : 'absent', storage, ...(storage ? { details: { storage: this.storage.describe(id), engine: this.engine.where } } : {}) };
    const details: Record<string, string | number | boolean> = {
      container: c.Id.slice(0, 12),
      image: c.Config.Labels?.['berth.image'] ?? c.Config.Image,
      storage: this.storage.describe(id),
      engine: this.engine.where,
    };
    // What the workspace was given, so `ws show` can tell whether it reaches the control plane.
    const serverUrl = c.Config.Env?.find((e) => e.startsWith('BERTH_SERVER_URL='))?.slice('BERTH_SERVER_URL='.length);
    if (serverUrl) details.serverUrl = serverUrl;
    const limit = c.HostConfig.Memory || undefined;
    if (c.State.Running) {
      const ooms = limit ? await this.oomKills(c.Id, 15_000) : 0;
      const status: RuntimeStatus = { state: 'running', storage, ports: portsOf(c), details };
      if (ooms > 0) {
        details.oomKills = ooms;
        status.message = `${ooms} process(es) were killed because the workspace ran out of memory (limit ${formatSize(limit!)})`;
      }
      return status;
    }
    if (c.State.Status === 'created') return { state: 'stopped', storage, details };
    let message: string;
    if (c.State.OOMKilled) message = `the container was killed because it ran out of memory${limit ? ` (limit ${formatSize(limit)})` : ''}`;
    else if (c.State.Error) message = `the container failed: ${c.State.Error}`;
    else message = `the container exited with code ${c.State.ExitCode}`;
    return { state: 'failed', storage, message, details };
  }

  /** Ids of workspaces with a container or storage owned by this runtime. Also removes probe and helper containers a crash left behind. */
  async list(): Promise<string[]> {
    const stale = Date.now() / 1000 - 300;
    for (const kind of ['probe', 'helper', 'copy']) {
      for (const c of await this.engine.listContainers({ ...this.labels(), [LABELS.kind]: kind })) {
        // A fork's copy (copy.ts) may rightly take longer; only one that has ended is a leftover.
        if (c.Created < stale && (kind !== 'copy' || c.State !== 'running')) await this.engine.removeContainer(c.Id).catch(() => undefined);
      }
    }
    const [containers, stored] = await Promise.all([this.engine.listContainers({ ...this.labels(), [LABELS.kind]: 'workspace' }), this.storage.list()]);
    const ids = new Set(stored);
    for (const c of containers) {
      const id = c.Labels?.[LABELS.workspace];
      if (id) ids.add(id);
    }
    return [...ids].sort();
  }

  // ---------------------------------------------------------------- exec

  /** Starts a process in the running workspace container. */
  async exec(ws: WorkspaceContext, o: ExecOptions): Promise<ExecProcess> {
    const c = await this.engine.inspectContainer(containerName(ws.id));
    if (!c?.State.Running) throw new ProvisionerError(`Workspace "${ws.name}" is not running; start it first.`, { retryable: false, code: 'not_running' });
    const u = await this.containerUser(c, ws.spec.user);
    const shell = this.shell(ws, u);
    let cmd = o.cmd;
    if (cmd.length === 0) cmd = o.tty ? ['/bin/sh', '-c', tmuxScript(shell, this.nonce)] : [shell, '-l'];
    const limit = c.HostConfig.Memory || undefined;
    return this.engine.exec(c.Id, {
      cmd,
      tty: o.tty,
      stdin: true,
      env: this.execEnv(ws, u, { ...(o.tty ? { TERM: 'xterm-256color' } : {}), ...o.env }),
      cwd: o.cwd ?? `${ws.spec.mountPath}/work`,
      ...(o.cols ? { cols: o.cols } : {}),
      ...(o.rows ? { rows: o.rows } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      annotateExit: async (code) => {
        const note = await this.oomNote(c.Id, code, limit);
        return note ? `berth: ${note}.` : undefined;
      },
    });
  }
}

/** Published ports from a container inspect. */
export function portsOf(c: Docker.ContainerInspectInfo): PortMapping[] {
  const out: PortMapping[] = [];
  const ports = (c.NetworkSettings?.Ports ?? {}) as Record<string, { HostIp: string; HostPort: string }[] | null>;
  const exposed = Object.keys(c.Config.ExposedPorts ?? {});
  for (const key of [...new Set([...exposed, ...Object.keys(ports)])].sort()) {
    const [port, proto] = key.split('/');
    const binding = ports[key]?.find((b) => !b.HostIp.includes(':')) ?? ports[key]?.[0];
    out.push({
      port: Number(port),
      protocol: proto === 'udp' ? 'udp' : 'tcp',
      ...(binding ? { hostIp: binding.HostIp || '0.0.0.0', hostPort: Number(binding.HostPort) } : {}),
    });
  }
  return out;
}

/** Rejects spec paths Berth must not mount or write over. */
export function assertMountablePath(p: string, what: string): void {
  if (MOUNT_FORBIDDEN.test(p)) throw new InputError(`${what} "${p}" lies in /proc, /sys or /dev, which the container runtime owns.`);
}
