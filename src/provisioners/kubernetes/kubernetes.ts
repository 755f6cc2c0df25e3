/**
 * The `kubernetes` provisioner: a workspace is a PersistentVolumeClaim `berth-ws-<id>` (its files,
 * kept until the workspace is deleted), Secrets (its token and secret environment, its config files,
 * its registry logins) and a pod whose init container clones into the claim only when it is empty.
 * Provision is a list of named idempotent steps, each finding its object again by name and labels,
 * so a provision run again after a crash at any point converges on one claim and one pod.
 */
import { ApiException, StorageV1Api, type V1PersistentVolumeClaim, type V1Pod } from '@kubernetes/client-node';
import { AbortedError, InputError, ProvisionerError, throwIfAborted } from '../../core/errors.ts';
import { progressFilter } from '../../core/lines.ts';
import type { Spec } from '../../core/spec.ts';
import { isLocalOnly } from '../../core/urls.ts';
import { rewriteGitEnv } from '../git-setup.ts';
import { terminalNonce, tmuxScript } from '../tmux.ts';
import { trustScripts } from '../trust.ts';
import type { ContainerUser } from '../image-users.ts';
import type { Capabilities, ExecOptions, ExecProcess, OpOptions, PluginContext, Provisioner, ProvisionerPlugin, RuntimeStatus, WorkspaceContext } from '../provisioner.ts';
import { KubeClient, isNotFound } from './client.ts';
import { copyClaim } from './copy.ts';
import { podExec, runInPod } from './exec.ts';
import { BUNDLE_WAIT, INIT, LABELS, MAIN, NO_GIT, checkoutEnv, envSecretFor, filesScript, filesSecretFor, names, initScript, podFor, pullSecretFor, pvcFor, registryOf, type CloneSource, type PodSettings } from './objects.ts';
import { KubernetesOptionsSchema, checkKubernetesOptions, parsePairs, parseTolerations, type KubernetesOptions } from './options.ts';
import { podState } from './status.ts';
import { UserResolver, decodeUser, encodeUser } from './users.ts';
import { ClaimWatch, Observer, type Mirror } from './watch.ts';

/** What the kubernetes type can do: images, users, limits and private registries; pods reach the control plane over the network. */
export const kubernetesCapabilities: Capabilities = { runsOnHost: false, image: true, user: true, resources: true, registryLogins: true, needsServerUrl: true, fork: true };

/** How long a pod may take to be scheduled, pull its image and clone. */
const START_MS = 5 * 60_000;
const GONE_MS = 2 * 60_000;

function firstLine(s: string): string {
  const line = s.split('\n')[0]!;
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}

/** Runs workspaces as pods on one namespace of a Kubernetes cluster. */
export class KubernetesProvisioner implements Provisioner {
  readonly type = 'kubernetes';
  readonly capabilities = kubernetesCapabilities;
  private readonly users: UserResolver;
  /** Unique per instance: TTY shells started by an earlier control plane are recognisable by it. */
  private readonly nonce = terminalNonce();
  /** Pods and claims of this provisioner as informers see them: what inspect and every wait read. */
  private readonly observed: Observer;
  /** Storage classes looked up already (found, or not ours to read), so each is read once. */
  private readonly checkedClasses = new Set<string>();

  private constructor(
    readonly name: string,
    readonly options: KubernetesOptions,
    readonly kube: KubeClient,
    private readonly settings: PodSettings,
  ) {
    this.users = new UserResolver(kube, settings);
    this.observed = new Observer(kube, KubeClient.selector({ [LABELS.installation]: settings.installation, [LABELS.provisioner]: name }));
  }

  /** Builds an instance from stored options; reads the kubeconfig, makes no request. */
  static async create(name: string, o: KubernetesOptions, ctx: Pick<PluginContext, 'installation'>): Promise<KubernetesProvisioner> {
    let kube: KubeClient;
    try {
      kube = KubeClient.connect(o);
    } catch (err) {
      throw new InputError(`Cannot load the Kubernetes configuration${o.kubeconfig ? ` from ${o.kubeconfig}` : ''}: ${(err as Error).message}`);
    }
    const settings: PodSettings = {
      installation: ctx.installation,
      provisioner: name,
      ...(o.storageClass ? { storageClass: o.storageClass } : {}),
      pvcSize: o.pvcSize ?? '10Gi',
      accessMode: o.accessMode ?? 'ReadWriteOnce',
      ...(o.cpuRequest ? { cpuRequest: o.cpuRequest } : {}),
      ...(o.memoryRequest ? { memoryRequest: o.memoryRequest } : {}),
      nodeSelector: parsePairs(o.nodeSelector, '--node-selector', 'label'),
      tolerations: parseTolerations(o.tolerations),
      ...(o.serviceAccount ? { serviceAccount: o.serviceAccount } : {}),
      imagePullPolicy: o.imagePullPolicy ?? 'IfNotPresent',
      ...(o.initImage ? { initImage: o.initImage } : {}),
      labels: parsePairs(o.labels, '--labels', 'label'),
      annotations: parsePairs(o.annotations, '--annotations', 'any'),
    };
    return new KubernetesProvisioner(name, o, kube, settings);
  }

  private get ns(): string {
    return this.kube.namespace;
  }

  /** Verifies the cluster answers and this identity may use the namespace (an admin adding the provisioner sees what is wrong). */
  async check(): Promise<void> {
    try {
      await this.kube.core.listNamespacedPod({ namespace: this.ns, limit: 1 });
      await this.kube.core.listNamespacedPersistentVolumeClaim({ namespace: this.ns, limit: 1 });
    } catch (err) {
      // Its sentence names the namespace and cluster already (and, for RBAC, the verb).
      throw new InputError(this.kube.fail('listing pods and claims', err).message, { cause: err });
    }
    await this.checkStorageClass().catch((err: unknown) => {
      throw new InputError((err as Error).message);
    });
  }

  /**
   * Refuses a storage class the cluster does not have, before a claim waits for it forever. Reading
   * storage classes needs a ClusterRole the minimal Role lacks; without it the claim's events tell.
   */
  private async checkStorageClass(): Promise<void> {
    const cls = this.settings.storageClass;
    if (!cls || this.checkedClasses.has(cls)) return;
    try {
      await this.kube.kc.makeApiClient(StorageV1Api).readStorageClass({ name: cls });
      this.checkedClasses.add(cls);
    } catch (err) {
      if (!isNotFound(err)) {
        if (err instanceof ApiException && err.code === 403) this.checkedClasses.add(cls);
        return;
      }
      throw new ProvisionerError(`The storage class ${cls} does not exist in the cluster of ${this.kube.where}; choose one of \`kubectl get storageclass\` with --storage-class.`, { retryable: false, code: 'invalid_spec' });
    }
  }

  async validate(spec: Spec): Promise<void> {
    if (!(spec.image ?? this.options.defaultImage)) {
      throw new InputError(`The kubernetes provisioner "${this.name}" needs an image: pass --image IMAGE (spec.image), or give the provisioner a default image.`);
    }
    if (spec.userData.length || spec.caches.length) throw new InputError('spec.userData and spec.caches are not supported by the kubernetes provisioner yet; remove them (files under spec.mountPath persist).');
    if (spec.resources.pids !== undefined) throw new InputError('spec.resources.pids is not supported by the kubernetes provisioner (the kubelet sets pod pid limits); remove it.');
    if (spec.resources.cpus !== undefined && spec.resources.cpus < 0.001) throw new InputError(`spec.resources.cpus must be at least 0.001; got ${spec.resources.cpus}.`);
    if (spec.user !== undefined && /^0?(:|$)|^root(:|$)/.test(spec.user)) throw new InputError('Workspace pods never run as root: set spec.user to another user.');
  }

  /** BERTH_SERVER_URL as pods use it: the `serverUrl` option, else the control plane's own URL unless it is loopback-only. */
  private podUrl(hostUrl: string | undefined): string | undefined {
    if (this.options.serverUrl) return this.options.serverUrl.replace(/\/+$/, '');
    if (!hostUrl) return undefined;
    try {
      return isLocalOnly(new URL(hostUrl).hostname) ? undefined : hostUrl.replace(/\/+$/, '');
    } catch {
      return undefined;
    }
  }

  /** Where the init container clones from and what `origin` becomes: through the gateway when pods reach it, else a bundle the control plane sends. */
  private cloneSource(ws: WorkspaceContext, hostUrl: string | undefined, podUrl: string | undefined): { source: CloneSource; origin: string; gitEnv: Record<string, string> | undefined } {
    const p = ws.project;
    const viaGateway = hostUrl && podUrl && p.cloneUrl.startsWith(hostUrl);
    const origin = viaGateway ? podUrl + p.cloneUrl.slice(hostUrl.length) : p.cloneUrl;
    const gitEnv = viaGateway ? rewriteGitEnv(p.gitEnv, new URL(hostUrl).origin, new URL(podUrl).origin) : p.gitEnv;
    if (viaGateway && p.gitEnv) return { source: { kind: 'url', url: origin }, origin, gitEnv };
    if (p.bundle) return { source: { kind: 'bundle' }, origin, gitEnv };
    if (/^https?:\/\//.test(p.cloneUrl)) return { source: { kind: 'url', url: p.cloneUrl }, origin, gitEnv };
    throw new ProvisionerError(`Pods cannot clone project "${p.name}" from ${p.cloneUrl || '(no URL)'}: it is not an http(s) URL and the control plane offers no bundle of it.`, { retryable: false, code: 'clone_failed' });
  }

  // ---------------------------------------------------------------- provision steps

  /** Step: the claim, created when absent; true when this provision created it. */
  private async ensureClaim(ws: WorkspaceContext): Promise<boolean> {
    const n = names(ws.id);
    const existing = await this.readClaim(n.pvc);
    if (existing && !existing.metadata?.deletionTimestamp) return false;
    if (existing) await this.waitClaimGone(n.pvc, new AbortController().signal);
    return this.kube.create(`claim ${n.pvc}`, () => this.kube.core.createNamespacedPersistentVolumeClaim({ namespace: this.ns, body: pvcFor(this.settings, ws) }));
  }

  /** Step: the Secrets, written afresh (the token rotates on every provision); those the spec no longer needs are removed. */
  private async applySecrets(ws: WorkspaceContext): Promise<void> {
    const n = names(ws.id);
    const wanted = [envSecretFor(this.settings, ws), ws.spec.files.length ? filesSecretFor(this.settings, ws) : undefined, pullSecretFor(this.settings, ws)];
    // Independent objects: written at once, each a round trip of its own.
    await Promise.all([n.env, n.files, n.pull].map(async (name, i) => {
      const body = wanted[i];
      if (!body) {
        await this.kube.remove(`secret ${name}`, () => this.kube.core.deleteNamespacedSecret({ name, namespace: this.ns }));
        return;
      }
      if (!(await this.kube.create(`secret ${name}`, () => this.kube.core.createNamespacedSecret({ namespace: this.ns, body })))) {
        await this.kube.core.replaceNamespacedSecret({ name, namespace: this.ns, body }).catch((err: unknown) => {
          throw this.kube.fail(`updating secret ${name}`, err);
        });
      }
    }));
  }

  /** Step: a fresh pod on the claim (a pod left by an earlier start or attempt is deleted first). */
  private async replacePod(pod: V1Pod, opts: OpOptions): Promise<void> {
    const name = pod.metadata!.name!;
    const create = () => this.kube.create(`pod ${name}`, () => this.kube.core.createNamespacedPod({ namespace: this.ns, body: pod }));
    // A watch in sync that sees no pod spares the delete; one it has not seen yet makes the create conflict, and is replaced then.
    if (this.observed.pods.get(name) === null && (await create())) return;
    if (await this.deletePod(name, 0, opts.signal)) opts.progress('Replaced the previous pod of this workspace.', 'info');
    await create();
  }

  /** The checkout script's output as progress (its last lines kept for an error); in bundle mode the bundle is sent into `container` when it asks. */
  private checkoutOutput(ws: WorkspaceContext, bundle: boolean, container: string, opts: OpOptions, sendFailed: () => void = () => undefined) {
    const tail: string[] = [];
    let sending: Promise<void> | undefined;
    const emit = (line: string, kind: 'output' | 'progress') => {
      if (line === BUNDLE_WAIT && bundle) {
        sending ??= this.sendBundle(ws, container, opts);
        sending.catch(sendFailed);
        return;
      }
      tail.push(line);
      if (tail.length > 5) tail.shift();
      opts.progress(line, kind);
    };
    return { tail, filter: () => progressFilter(emit), sent: () => sending };
  }

  /** Step: runs the checkout script by exec in the running workspace container; fails with its last words. */
  private async checkoutByExec(ws: WorkspaceContext, source: CloneSource, origin: string, gitEnv: Record<string, string> | undefined, opts: OpOptions): Promise<void> {
    // A bundle that cannot be sent leaves the script waiting for it: it is ended, and the send's error said.
    const sendFailed = new AbortController();
    const out = this.checkoutOutput(ws, source.kind === 'bundle', MAIN, opts, () => sendFailed.abort());
    const proc = await podExec(this.kube, names(ws.id).pod, MAIN, {
      cmd: ['/bin/sh', '-c', initScript(ws, source, origin, gitEnv)],
      tty: false,
      stdin: false,
      cwd: ws.spec.mountPath,
      env: checkoutEnv(source, gitEnv),
      signal: AbortSignal.any([opts.signal, sendFailed.signal]),
    });
    const [stdout, stderr] = [out.filter(), out.filter()];
    proc.stdout.on('data', (d: Buffer) => stdout.push(d));
    proc.stderr?.on('data', (d: Buffer) => stderr.push(d));
    const res = await proc.exited;
    stdout.flush();
    stderr.flush();
    throwIfAborted(opts.signal);
    await out.sent();
    if (res.code !== 0) {
      if (out.tail.some((l) => l.includes(NO_GIT))) throw new ProvisionerError(NO_GIT, { retryable: false, code: 'clone_failed' });
      throw new ProvisionerError(`The checkout in the pod failed (exit code ${res.code ?? res.signal}): ${out.tail.join(' / ') || 'no output'}`, { retryable: false, code: 'clone_failed' });
    }
  }

  /** Step: a team's CA into the workspace's trust (../trust.ts); exec runs as the pod's user, so the system store only gets it in a pod running as root. */
  private async installTrust(ws: WorkspaceContext, opts: OpOptions): Promise<void> {
    if (!ws.caBundle) return;
    const scripts = trustScripts(ws.caBundle, ws.spec.mountPath);
    const run = (script: string) => runInPod(this.kube, names(ws.id).pod, MAIN, ['/bin/sh', '-c', script], { onLine: (l) => opts.progress(l, 'output'), signal: opts.signal });
    await run(scripts.root);
    const res = await run(scripts.user);
    if (res.code !== 0) throw new ProvisionerError(`Writing the server's CA bundle into ${ws.spec.mountPath}/.berth failed (exit code ${res.code ?? res.signal}); see the workspace log.`, { retryable: false, code: 'setup_failed' });
    opts.progress("Installed the server's CA bundle into the workspace's trust.", 'info');
  }

  /** Step: follows the init container's output as progress and, in bundle mode, sends the bundle when it asks; fails with its last words. */
  private async runCheckout(ws: WorkspaceContext, bundle: boolean, opts: OpOptions): Promise<void> {
    const n = names(ws.id);
    await this.waitFor(ws.id, (pod) => {
      const init = pod.status?.initContainerStatuses?.find((c) => c.name === INIT);
      return init?.state?.running || init?.state?.terminated ? true : undefined;
    }, 'start its checkout', opts);
    const out = this.checkoutOutput(ws, bundle, INIT, opts);
    const tail = out.tail;
    await this.kube.followLogs(n.pod, INIT, out.filter(), opts.signal);
    throwIfAborted(opts.signal);
    await out.sent();
    const done = await this.waitFor(ws.id, (pod) => {
      const t = pod.status?.initContainerStatuses?.find((c) => c.name === INIT)?.state?.terminated;
      return t ? t : undefined;
    }, 'finish its checkout', opts);
    if (done.exitCode !== 0) {
      if (tail.some((l) => l.includes(NO_GIT))) throw new ProvisionerError(NO_GIT, { retryable: false, code: 'clone_failed' });
      throw new ProvisionerError(`The checkout in the pod failed (exit code ${done.exitCode}): ${tail.join(' / ') || done.reason || 'no output'}`, { retryable: false, code: 'clone_failed' });
    }
  }

  /** Streams a `git bundle` from the control plane into the claim through the exec API, for the checkout script in `container`. */
  private async sendBundle(ws: WorkspaceContext, container: string, opts: OpOptions): Promise<void> {
    opts.progress(`Sending a bundle of ${ws.project.name} to the pod`, 'info');
    const target = `${ws.spec.mountPath}/.berth/checkout.bundle`;
    const proc = await podExec(this.kube, names(ws.id).pod, container, { cmd: ['/bin/sh', '-c', 'cat > "$0.part" && mv "$0.part" "$0"', target], tty: false, stdin: true, signal: opts.signal });
    // Asked for only once the exec is open and piped at once: a bundle producer need not buffer while we wait.
    const stream = await ws.project.bundle!(opts.signal);
    let errText = '';
    proc.stderr?.on('data', (d: Buffer) => (errText += d.toString()));
    proc.stdout.resume();
    stream.pipe(proc.stdin);
    const res = await proc.exited;
    if (res.code !== 0 && !opts.signal.aborted) throw new ProvisionerError(`Sending the bundle into the pod failed (exit code ${res.code ?? res.signal}): ${errText.trim()}`, { code: 'clone_failed' });
  }

  /**
   * Waits on the workspace pod until `decide` answers, from watch events. What holds the pod up is
   * said once in progress lines as it changes; a pod that vanishes, or that waiting cannot help, is
   * an error naming why.
   */
  private async waitFor<T>(id: string, decide: (pod: V1Pod) => T | undefined, what: string, opts: OpOptions): Promise<T> {
    const n = names(id);
    // The cache may not have seen a pod created a moment ago: absent counts as gone only after it was seen.
    let seen = false;
    let said: string | undefined;
    const claim = new ClaimWatch(this.kube, n.pvc, () => this.observed.pods.recheck(), opts.signal);
    try {
      const res = await this.observed.pods.wait(
        n.pod,
        (pod) => {
          if (!pod) return seen ? { error: 'the pod was deleted while it started', stuck: false } : undefined;
          seen = true;
          const v = decide(pod);
          if (v !== undefined) return { value: v };
          const pvc = this.observed.claims.get(n.pvc) ?? null;
          const s = podState(pod, pvc, claim.event(pvc));
          if (s.message && s.message !== said) opts.progress(`Waiting for the pod: ${(said = s.message)}.`, 'info');
          return s.stuck ? { error: s.message ?? 'the pod cannot start', stuck: true } : undefined;
        },
        opts.signal,
        START_MS,
        what,
      );
      if ('error' in res) throw new ProvisionerError(`The workspace pod ${n.pod} cannot ${what}: ${res.error}.`, { retryable: !res.stuck, code: 'container_start_failed' });
      return res.value;
    } finally {
      claim.close();
    }
  }

  /** The run-as user from the spec (or the options' default uid), resolved against the image. */
  private resolveUser(ws: WorkspaceContext, image: string, pullPolicy: string, opts: OpOptions): Promise<ContainerUser> {
    const spec = ws.spec.user ?? this.options.defaultUser ?? '1000';
    const say = (message: string) => opts.progress(`Waiting for the pod that reads the image's users: ${message}.`, 'info');
    return this.users.resolve(image, spec, ws.spec.registryLogins.length ? names(ws.id).pull : undefined, pullPolicy, opts.signal, say);
  }

  async provision(ws: WorkspaceContext, opts: OpOptions): Promise<RuntimeStatus> {
    const n = names(ws.id);
    const image = ws.spec.image ?? this.options.defaultImage;
    if (!image) throw new ProvisionerError('The workspace has no image: set spec.image (berth ws create --image IMAGE).', { retryable: false, code: 'invalid_spec' });
    const hostUrl = ws.env.BERTH_SERVER_URL?.replace(/\/+$/, '');
    const podUrl = this.podUrl(hostUrl);
    if (!podUrl && hostUrl) {
      opts.progress(`Pods in ${this.kube.where} cannot reach the control plane at ${hostUrl} (it listens on this machine only), so git and BERTH_SERVER_URL do not work from inside them; give the provisioner a URL they can reach with --server-url URL.`, 'info');
    }
    const login = ws.spec.registryLogins.find((l) => l.registry === registryOf(image));
    // With a login the image is always pulled, so the credentials are checked every time.
    const pullPolicy = login ? 'Always' : this.settings.imagePullPolicy;
    let fresh = false;
    try {
      await this.checkStorageClass();
      [fresh] = await Promise.all([this.ensureClaim(ws), this.applySecrets(ws)]);
      throwIfAborted(opts.signal);
      if (login) opts.progress(`Pulling image ${image} as ${login.username}`, 'info');
      const user = await this.resolveUser(ws, image, pullPolicy, opts);
      const { source, origin, gitEnv } = this.cloneSource(ws, hostUrl, podUrl);
      const pod = podFor(this.settings, ws, { image, user, serverUrl: podUrl, source, originUrl: origin, gitEnv, pullPolicy });
      pod.metadata!.annotations!['berth.user'] = encodeUser(user);
      await this.replacePod(pod, opts);
      const byInit = Boolean(this.settings.initImage);
      if (byInit) await this.runCheckout(ws, source.kind === 'bundle', opts);
      await this.waitFor(ws.id, (p) => (podState(p, null).state === 'running' ? true : undefined), 'run', opts);
      // Before the checkout: a clone from the gateway over HTTPS needs the team's CA.
      await this.installTrust(ws, opts);
      if (!byInit) await this.checkoutByExec(ws, source, origin, gitEnv, opts);
      if (ws.spec.files.length) {
        const res = await runInPod(this.kube, n.pod, MAIN, ['/bin/sh', '-c', filesScript(ws, user.home)], { onLine: (l) => opts.progress(l, 'output'), signal: opts.signal });
        if (res.code !== 0) throw new ProvisionerError(`Writing the config files failed (exit code ${res.code ?? res.signal}); check spec.files paths are writable by the workspace user.`, { retryable: false, code: 'files_failed' });
        opts.progress(`Wrote ${ws.spec.files.length} config file(s).`, 'info');
      }
      await this.runCommands(ws, user, 'setup', opts);
      return await this.inspect(ws.id);
    } catch (err) {
      if (!opts.signal.aborted) await this.undoFailedProvision(ws, fresh, err);
      if (opts.signal.aborted && !(err instanceof AbortedError)) throw new AbortedError();
      throw err;
    }
  }

  /** A fork's claim: created like any workspace's, then filled from the source's claim by a copy pod (copy.ts) running as the source's user. */
  async copyStorage(from: WorkspaceContext, to: WorkspaceContext, opts: OpOptions): Promise<void> {
    const n = names(from.id);
    if (!(await this.readClaim(n.pvc))) throw new ProvisionerError(`Workspace "${from.name}" has no volume claim in ${this.kube.where} to copy; it was never provisioned there, or was deleted.`, { retryable: false });
    const pod = await this.readPod(n.pod);
    const image = pod?.metadata?.annotations?.['berth.image'] ?? from.spec.image ?? this.options.defaultImage;
    if (!image) throw new ProvisionerError(`Workspace "${from.name}" has no image to copy its files with.`, { retryable: false, code: 'invalid_spec' });
    const pullSecret = from.spec.registryLogins.length ? n.pull : undefined;
    const user = decodeUser(pod?.metadata?.annotations?.['berth.user']) ?? (await this.resolveUser(from, image, this.settings.imagePullPolicy, opts));
    await this.ensureClaim(to);
    const node = pod?.spec?.nodeName;
    await copyClaim(this.kube, this.settings, { from: n.pvc, to: names(to.id).pvc, image, pullPolicy: this.settings.imagePullPolicy, user, ...(node ? { node } : {}), ...(pullSecret ? { pullSecret } : {}) }, opts);
  }

  /** A first provision that failed for good leaves nothing behind; a later one loses only its pod. */
  private async undoFailedProvision(ws: WorkspaceContext, fresh: boolean, err: unknown): Promise<void> {
    const permanent = !(err instanceof ProvisionerError) || !err.retryable;
    if (!permanent) return;
    const signal = new AbortController().signal;
    if (fresh) await this.removeAll(ws.id, signal).catch(() => undefined);
    else await this.deletePod(names(ws.id).pod, 0, signal).catch(() => undefined);
  }

  /** The shell of setup commands and terminals. */
  private shell(ws: WorkspaceContext, u: ContainerUser): string {
    return ws.spec.shell ?? u.shell ?? '/bin/sh';
  }

  private async runCommands(ws: WorkspaceContext, u: ContainerUser, which: 'setup' | 'teardown', opts: OpOptions): Promise<void> {
    const list = ws.spec[which];
    for (const [i, command] of list.entries()) {
      throwIfAborted(opts.signal);
      opts.progress(`Running ${which} command ${i + 1}/${list.length}: ${firstLine(command)}`, 'info');
      const res = await runInPod(this.kube, names(ws.id).pod, MAIN, [this.shell(ws, u), '-c', command], {
        cwd: `${ws.spec.mountPath}/work`,
        onLine: (l) => opts.progress(l, 'output'),
        signal: opts.signal,
      });
      throwIfAborted(opts.signal);
      if (res.code === 0) continue;
      if (which === 'teardown') {
        // A failing teardown must not keep a workspace from stopping; it is reported and we go on.
        opts.progress(`Teardown command ${i + 1} exited with code ${res.code ?? res.signal}; continuing.`, 'info');
        continue;
      }
      throw new ProvisionerError(`Setup command ${i + 1} exited with code ${res.code ?? res.signal}: ${firstLine(command)}`, { retryable: false, code: 'setup_failed', details: { command: i + 1 } });
    }
  }

  // ---------------------------------------------------------------- stop / destroy

  /** Deletes a pod (grace period honoured) and waits until it is gone; false when there was none. */
  private async deletePod(name: string, grace: number | undefined, signal: AbortSignal): Promise<boolean> {
    const existed = await this.kube.remove(`pod ${name}`, () => this.kube.core.deleteNamespacedPod({ name, namespace: this.ns, ...(grace !== undefined ? { gracePeriodSeconds: grace } : {}) }));
    if (existed) await this.gone(this.observed.pods, name, () => this.readPod(name), signal);
    return existed;
  }

  private async waitClaimGone(name: string, signal: AbortSignal): Promise<void> {
    await this.gone(this.observed.claims, name, () => this.readClaim(name), signal);
  }

  /** Waits until an object is gone by watch events, confirmed by a read: the cache may not yet have seen an object created a moment ago. */
  private async gone<T extends V1Pod | V1PersistentVolumeClaim>(mirror: Mirror<T>, name: string, read: () => Promise<T | null>, signal: AbortSignal): Promise<void> {
    await mirror.wait(name, (o) => (o ? undefined : true), signal, GONE_MS, 'be deleted');
    if (!(await read())) return;
    let seen = false;
    const decide = (o: T | null): true | undefined => {
      if (o) seen = true;
      return seen && !o ? true : undefined;
    };
    await mirror.wait(name, decide, signal, GONE_MS, 'be deleted');
  }

  private readPod(name: string): Promise<V1Pod | null> {
    return this.kube.read(`pod ${name}`, () => this.kube.core.readNamespacedPod({ name, namespace: this.ns }));
  }

  private readClaim(name: string): Promise<V1PersistentVolumeClaim | null> {
    return this.kube.read(`claim ${name}`, () => this.kube.core.readNamespacedPersistentVolumeClaim({ name, namespace: this.ns }));
  }

  /** The object as the watch last saw it, or as the apiserver says while the watch is not in sync. */
  private async observe<T extends V1Pod | V1PersistentVolumeClaim>(mirror: Mirror<T>, name: string, read: (name: string) => Promise<T | null>): Promise<T | null> {
    const cached = mirror.get(name);
    return cached !== undefined ? cached : read(name);
  }

  /** The running workspace pod, or null. */
  private async runningPod(id: string): Promise<V1Pod | null> {
    const pod = await this.observe(this.observed.pods, names(id).pod, (n) => this.readPod(n));
    return pod && podState(pod, null).state === 'running' ? pod : null;
  }

  private async teardown(ws: WorkspaceContext, pod: V1Pod, opts: OpOptions): Promise<void> {
    const u = decodeUser(pod.metadata?.annotations?.['berth.user']) ?? { spec: '', uid: 1000, gid: 1000, home: '/' };
    try {
      await this.runCommands(ws, u, 'teardown', opts);
    } catch (err) {
      if (opts.signal.aborted) throw err;
      opts.progress(`Teardown could not run: ${(err as Error).message}`, 'info');
    }
  }

  /** Runs teardown commands in a running pod, then deletes the pod; the claim stays. */
  async stop(ws: WorkspaceContext, opts: OpOptions): Promise<void> {
    const pod = ws.spec.teardown.length ? await this.runningPod(ws.id) : null;
    if (pod) await this.teardown(ws, pod, opts);
    if (await this.deletePod(names(ws.id).pod, undefined, opts.signal)) opts.progress('Deleted the pod; the workspace files are kept.', 'info');
  }

  /** Deletes pod, Secrets and claim (teardown first when the pod runs). */
  async destroy(ws: WorkspaceContext, opts: OpOptions): Promise<void> {
    const pod = ws.spec.teardown.length ? await this.runningPod(ws.id) : null;
    if (pod) await this.teardown(ws, pod, opts);
    if (await this.removeAll(ws.id, opts.signal)) opts.progress('Deleted the workspace pod, secrets and volume claim.', 'info');
  }

  private async removeAll(id: string, signal: AbortSignal): Promise<boolean> {
    const n = names(id);
    let any = await this.deletePod(n.pod, 0, signal);
    for (const s of [n.env, n.files, n.pull]) any = (await this.kube.remove(`secret ${s}`, () => this.kube.core.deleteNamespacedSecret({ name: s, namespace: this.ns }))) || any;
    if (await this.kube.remove(`claim ${n.pvc}`, () => this.kube.core.deleteNamespacedPersistentVolumeClaim({ name: n.pvc, namespace: this.ns }))) {
      any = true;
      await this.waitClaimGone(n.pvc, signal);
    }
    return any;
  }

  // ---------------------------------------------------------------- inspect / list

  /** Observes pod and claim (from the watch once it is in sync); changes nothing. */
  async inspect(id: string): Promise<RuntimeStatus> {
    const n = names(id);
    const [pod, pvc] = await Promise.all([
      this.observe(this.observed.pods, n.pod, (name) => this.readPod(name)),
      this.observe(this.observed.claims, n.pvc, (name) => this.readClaim(name)),
    ]);
    const mine = (o: V1Pod | V1PersistentVolumeClaim | null) => o && o.metadata?.labels?.[LABELS.installation] === this.settings.installation;
    const storage = Boolean(mine(pvc));
    const details: Record<string, string | number | boolean> = { namespace: this.ns, claim: n.pvc };
    if (pvc?.status?.phase) details.claimPhase = pvc.status.phase;
    if (!pod || !mine(pod)) return { state: storage ? 'stopped' : 'absent', storage, ...(storage ? { details } : {}) };
    details.pod = n.pod;
    if (pod.spec?.nodeName) details.node = pod.spec.nodeName;
    const image = pod.metadata?.annotations?.['berth.image'];
    if (image) details.image = image;
    const serverUrl = pod.spec?.containers.find((c) => c.name === MAIN)?.env?.find((e) => e.name === 'BERTH_SERVER_URL')?.value;
    if (serverUrl) details.serverUrl = serverUrl;
    const s = podState(pod, mine(pvc) ? pvc : null);
    if (s.state === 'running') {
      // Shown by `berth ws show`: a running pod's message tells of a restart (an OOM kill and its limit).
      if (s.message) details.observed = s.message;
      return { state: 'running', storage, ...(s.message ? { message: s.message } : {}), details };
    }
    if (s.state === 'failed') return { state: 'failed', storage, message: s.message ?? 'the pod failed', details };
    // Still starting, or restarting after a crash: not ready for exec.
    return { state: 'stopped', storage, ...(s.message ? { message: s.message } : {}), details };
  }

  /** Ids of workspaces with a pod, claim or Secret of this provisioner; probe pods a crash left behind are removed. */
  async list(): Promise<string[]> {
    const selector = KubeClient.selector({ [LABELS.installation]: this.settings.installation, [LABELS.provisioner]: this.name });
    const fail = (what: string) => (err: unknown) => {
      throw this.kube.fail(`listing ${what}`, err);
    };
    const [pods, pvcs, secrets] = await Promise.all([
      this.kube.core.listNamespacedPod({ namespace: this.ns, labelSelector: selector }).catch(fail('pods')),
      this.kube.core.listNamespacedPersistentVolumeClaim({ namespace: this.ns, labelSelector: selector }).catch(fail('claims')),
      this.kube.core.listNamespacedSecret({ namespace: this.ns, labelSelector: selector }).catch(fail('secrets')),
    ]);
    const stale = Date.now() - 5 * 60_000;
    for (const p of pods.items) {
      const created = p.metadata?.creationTimestamp ? new Date(p.metadata.creationTimestamp).getTime() : 0;
      const kind = p.metadata?.labels?.[LABELS.kind];
      // A fork's copy pod (copy.ts) may rightly take longer; only one that has ended is a leftover.
      const ended = p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
      if ((kind === 'probe' || (kind === 'copy' && ended)) && created < stale) {
        const name = p.metadata!.name!;
        await this.kube.remove(`probe pod ${name}`, () => this.kube.core.deleteNamespacedPod({ name, namespace: this.ns, gracePeriodSeconds: 0 })).catch(() => undefined);
      }
    }
    const ids = new Set<string>();
    for (const o of [...pods.items, ...pvcs.items, ...secrets.items]) {
      const id = o.metadata?.labels?.[LABELS.workspace];
      if (id) ids.add(id);
    }
    return [...ids].sort();
  }

  // ---------------------------------------------------------------- exec

  /** Starts a process in the workspace container through the exec API. */
  async exec(ws: WorkspaceContext, o: ExecOptions): Promise<ExecProcess> {
    const pod = await this.runningPod(ws.id);
    if (!pod) throw new ProvisionerError(`Workspace "${ws.name}" is not running; start it first.`, { retryable: false, code: 'not_running' });
    const u = decodeUser(pod.metadata?.annotations?.['berth.user']) ?? { spec: '', uid: 1000, gid: 1000, home: '/' };
    const shell = this.shell(ws, u);
    let cmd = o.cmd;
    if (cmd.length === 0) cmd = o.tty ? ['/bin/sh', '-c', tmuxScript(shell, this.nonce)] : [shell, '-l'];
    return podExec(this.kube, names(ws.id).pod, MAIN, {
      cmd,
      tty: o.tty,
      stdin: true,
      cwd: o.cwd ?? `${ws.spec.mountPath}/work`,
      env: { SHELL: shell, ...(o.tty ? { TERM: 'xterm-256color' } : {}), ...o.env },
      ...(o.cols ? { cols: o.cols } : {}),
      ...(o.rows ? { rows: o.rows } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
  }

  /** Stops the watches. */
  async close(): Promise<void> {
    this.observed.close();
  }
}


/** The `kubernetes` type. */
export function kubernetesPlugin(): ProvisionerPlugin<typeof KubernetesOptionsSchema> {
  return {
    type: 'kubernetes',
    summary: 'Pods on a Kubernetes cluster: a PersistentVolumeClaim per workspace, cloned into by an init container, terminals through the exec API.',
    options: KubernetesOptionsSchema,
    capabilities: kubernetesCapabilities,
    checkOptions: checkKubernetesOptions,
    create: (name, options, ctx) => KubernetesProvisioner.create(name, options, ctx),
  };
}
