/**
 * The steps of a Docker provision, in the order DockerRuntime.provision runs them. Each step reads
 * and fills one ProvisionRun and looks at what is already there instead of assuming a clean slate,
 * so a provision run again after a crash at any point converges: the image is pulled only when
 * missing, storage is adopted, the container is replaced, a checkout is cloned only when absent
 * and finished (marker, ownership) when a crash cut it short.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { ProvisionerError, throwIfAborted } from '../../core/errors.ts';
import type { Spec } from '../../core/spec.ts';
import type { OpOptions, ProgressSink, WorkspaceContext } from '../provisioner.ts';
import { removeTree } from '../remove-tree.ts';
import { trustScripts } from '../trust.ts';
import { chownTree, cloneOnHost, type CloneOptions } from './checkout.ts';
import type { DockerEngine } from './engine.ts';
import { authFor, withDefaultTag } from './images.ts';
import { checkId, type SharedStore, type StorageMeta, type WorkspaceStorage } from './storage.ts';
import { directoryEntries, tarStream, type TarEntry } from './tar.ts';
import { expandHome, type ContainerUser } from '../image-users.ts';
import { CHECKOUT_MARKER, PINNED_PATHS, ownFreshRoots, writeMarkerOnHost } from './host-marker.ts';

const KEEPING = 'Repository already present in work/, keeping it.';

/** The checkout in the workspace's storage as this provision found it: `incomplete` lacks the marker a finished one gets last. */
export type CheckoutState = 'absent' | 'incomplete' | 'complete';

/** What one provision has learned and created so far; the steps fill it in order. */
export interface ProvisionRun {
  /** The context as the control plane's host sees it: the clone runs there. */
  readonly host: WorkspaceContext;
  /** The context as the workspace sees it: BERTH_SERVER_URL is the address that works inside the container. */
  readonly ws: WorkspaceContext;
  readonly opts: OpOptions;
  readonly serverUrl: CloneOptions['serverUrl'];
  readonly imageRef: string;
  readonly image: Docker.ImageInspectInfo;
  /** Bind storage's directory on this host; undefined for volumes, whose contents are seen only from the container. */
  readonly hostDir: string | undefined;
  /** The run-as user; known before the container exists only when mount targets depend on its home. */
  user: ContainerUser | undefined;
  /** True when this provision created the storage: a permanent failure then removes everything again. */
  fresh: boolean;
  /** Undefined until read: before the container starts for bind storage, after it for volumes. */
  checkout: CheckoutState | undefined;
  containerId: string | undefined;
}

/** What the steps need from the runtime that drives them. */
export interface StepRuntime {
  readonly engine: DockerEngine;
  readonly storage: WorkspaceStorage;
  image(spec: Spec): string | undefined;
  user(image: Docker.ImageInspectInfo, userSpec: string | undefined, imageRef: string, containerId?: string): Promise<ContainerUser>;
  sharedStores(ws: WorkspaceContext): SharedStore[];
  containerSpec(ws: WorkspaceContext, image: Docker.ImageInspectInfo, imageRef: string, user: ContainerUser | undefined): Docker.ContainerCreateOptions;
  /** Fails with a sentence when the container lacks the shell that setup commands and terminals use. */
  assertShell(id: string, ws: WorkspaceContext, u: ContainerUser, image: string): Promise<void>;
}

/** The provision steps of one runtime; all state of a single provision lives in its ProvisionRun. */
export class ProvisionSteps {
  private rootlessCache: boolean | undefined;

  constructor(private readonly rt: StepRuntime) {}

  /** The image first: a wrong name or credentials fail before anything is created; the user too when mount targets need its home. */
  async resolveImage(host: WorkspaceContext, opts: OpOptions, serverUrl: CloneOptions['serverUrl']): Promise<ProvisionRun> {
    const ws = serverUrl ? { ...host, env: { ...host.env, BERTH_SERVER_URL: serverUrl.workspace } } : host;
    const imageRef = this.rt.image(ws.spec);
    if (!imageRef) throw new ProvisionerError('The workspace has no image: set spec.image (berth ws create --image IMAGE).', { retryable: false, code: 'invalid_spec' });
    checkId(ws.id);
    const image = await this.ensureImage(imageRef, ws.spec.registryLogins, opts.progress, opts.signal);
    throwIfAborted(opts.signal);
    const needsHome = [...ws.spec.userData, ...ws.spec.caches].some((p) => p.startsWith('~'));
    // The home directory decides mount targets, so it must be known before the container exists.
    const user = needsHome ? await this.rt.user(image, ws.spec.user, imageRef) : undefined;
    return { host, ws, opts, serverUrl, imageRef, image, hostDir: this.rt.storage.hostDir(ws.id), user, fresh: false, checkout: undefined, containerId: undefined };
  }

  /** Creates or adopts the workspace's storage and its shared stores; `fresh` records whether a failure may remove them. */
  async ensureStorage(run: ProvisionRun): Promise<void> {
    const { ws } = run;
    const shared = this.rt.sharedStores(ws);
    const meta: StorageMeta = { id: ws.id, owner: ws.owner.id, project: ws.project.name, image: run.imageRef, shared: shared.map((s) => s.key) };
    run.fresh = await this.rt.storage.ensure(meta);
    for (const s of shared) await this.rt.storage.ensureShared(s);
    throwIfAborted(run.opts.signal);
  }

  /** Bind storage: the checkout is read on the host before the container starts, so the clone can run while it does. */
  async readHostCheckout(run: ProvisionRun): Promise<void> {
    if (!run.hostDir) return;
    const hadCheckout = fs.existsSync(path.join(run.hostDir, 'work', '.git'));
    // The marker is written with the checkout's final ownership: without it, the checkout's ownership is fixed.
    if (hadCheckout) run.checkout = fs.existsSync(path.join(run.hostDir, '.berth', CHECKOUT_MARKER)) ? 'complete' : 'incomplete';
    else {
      run.checkout = 'absent';
      await assertWorkClean(run.hostDir);
    }
  }

  /**
   * Creates and starts a fresh container and checks its shell. On bind storage without a checkout
   * the clone runs on this host meanwhile, in a scratch directory the workspace cannot reach (so
   * nothing it does, such as planting symlinks, can redirect what the server writes or chowns), and
   * is moved into place once owned by the workspace user.
   */
  async startContainer(run: ProvisionRun): Promise<void> {
    const hostDir = run.hostDir;
    let scratch: string | undefined;
    const clone = async () => {
      if (!hostDir || run.checkout !== 'absent') return;
      scratch = fs.mkdtempSync(path.join(this.rt.storage.scratchDir!(), `${run.ws.id}-`));
      await cloneOnHost(run.host, path.join(scratch, 'work'), this.cloneOptions(run));
    };
    try {
      const started = this.createAndStart(run).then(() => this.rt.assertShell(run.containerId!, run.ws, run.user!, run.imageRef));
      const results = await Promise.allSettled([started, clone()]);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      throwIfAborted(run.opts.signal);
      if (scratch && hostDir) {
        if (!(await this.rootless())) await chownTree(path.join(scratch, 'work'), run.user!.uid, run.user!.gid);
        fs.renameSync(path.join(scratch, 'work'), path.join(hostDir, 'work'));
      }
    } finally {
      if (scratch) await removeTree(scratch);
    }
  }

  /** Volume storage: whether a checkout is there, and finished, can only be seen from inside the container. */
  async readVolumeCheckout(run: ProvisionRun): Promise<void> {
    if (run.hostDir) return;
    const mp = run.ws.spec.mountPath;
    const id = run.containerId!;
    if (await this.rt.engine.pathExists(id, `${mp}/.berth/${CHECKOUT_MARKER}`)) run.checkout = 'complete';
    else run.checkout = (await this.rt.engine.pathExists(id, `${mp}/work`)) ? 'incomplete' : 'absent';
  }

  /**
   * Everything written into the storage goes in one archive upload, each entry with its owner in
   * the tar header: ownership of the mount roots, the checkout (volumes) and its marker, config files.
   */
  async upload(run: ProvisionRun): Promise<void> {
    const { ws, opts } = run;
    const u = run.user!;
    if (await this.onHost(run)) ownFreshRoots(run.hostDir!, u);
    // Ownership of the mount roots is set once (and again if it was lost); on a host that cannot tell, every time.
    const owned = !(await this.rootless()) && (await this.rt.storage.rootsOwnedBy(ws.id, this.rt.sharedStores(ws).map((s) => s.key), u.uid));
    const entries = ownershipEntries(ws, u, !owned);
    // A volume's checkout is cloned on this host into a temporary directory that the upload reads from.
    const tmp = !run.hostDir && run.checkout !== 'complete' ? fs.mkdtempSync(path.join(os.tmpdir(), 'berth-clone-')) : undefined;
    try {
      entries.push(...(await this.checkoutEntries(run, tmp && path.join(tmp, 'work'))));
      entries.push(...fileEntries(ws, u));
      if (entries.length > 0) await this.rt.engine.putArchive(run.containerId!, '/', tarStream(entries), opts.signal);
    } finally {
      if (tmp) await removeTree(tmp);
    }
    if (ws.spec.files.length) opts.progress(`Wrote ${ws.spec.files.length} config file(s).`, 'info');
  }

  /** A team's CA into the workspace's trust: the system store as root, the bundle in the mount as the workspace user; every fresh container needs the store again. */
  async installTrust(run: ProvisionRun): Promise<void> {
    const pem = run.ws.caBundle;
    if (!pem) return;
    const u = run.user!;
    const scripts = trustScripts(pem, run.ws.spec.mountPath);
    const onLine = (l: string) => run.opts.progress(l);
    await this.rt.engine.run(run.containerId!, { cmd: ['/bin/sh', '-c', scripts.root], user: '0', onLine });
    const res = await this.rt.engine.run(run.containerId!, { cmd: ['/bin/sh', '-c', scripts.user], user: `${u.uid}:${u.gid}`, onLine });
    if (res.code !== 0) throw new ProvisionerError(`Writing the server's CA bundle into ${run.ws.spec.mountPath}/.berth failed (exit code ${res.code}); see the workspace log.`, { retryable: false, code: 'setup_failed' });
    run.opts.progress("Installed the server's CA bundle into the workspace's trust.", 'info');
  }

  // ---------------------------------------------------------------- within the steps

  /** Makes the image available. With a login for its registry it is always pulled, so the credentials are checked every time. */
  private async ensureImage(image: string, logins: Spec['registryLogins'], progress: ProgressSink, signal: AbortSignal): Promise<Docker.ImageInspectInfo> {
    const ref = withDefaultTag(image);
    const auth = authFor(ref, logins);
    let info = auth ? null : await this.rt.engine.inspectImage(ref);
    if (!info) {
      progress(`Pulling image ${ref}${auth ? ` as ${auth.username}` : ''}`, 'info');
      const layers = new Set<string>();
      await this.rt.engine.pull(
        ref,
        auth,
        (s) => {
          if (s.id && s.status === 'Pull complete') layers.add(s.id);
          if (s.status?.startsWith('Status:') || s.status?.startsWith('Digest:')) progress(s.status, 'progress');
        },
        signal,
      );
      info = await this.rt.engine.inspectImage(ref);
      if (!info) throw new ProvisionerError(`The image ${ref} was pulled but the engine does not list it; try again.`, { code: 'image_pull_failed' });
      progress(`Image ${ref} ready${layers.size ? ` (${layers.size} new layer(s))` : ''}.`, 'info');
    }
    return info;
  }

  /**
   * Whether this provision may write its storage's roots and marker straight on this host, so a
   * plain create needs no archive upload at all: bind storage it created itself (nothing of an
   * earlier container is in it), on a server that can chown, where a directory can be pinned by
   * its descriptor (see inBerthDir: the container is already running by then).
   */
  private async onHost(run: ProvisionRun): Promise<boolean> {
    return run.hostDir !== undefined && run.fresh && PINNED_PATHS && !(await this.rootless());
  }

  /** A server not running as root (or an engine remapping users) cannot chown on the host; ownership is then fixed inside the container. */
  private async rootless(): Promise<boolean> {
    if (this.rootlessCache !== undefined) return this.rootlessCache;
    if (typeof process.getuid !== 'function' || process.getuid() !== 0) return (this.rootlessCache = true);
    const info = await this.rt.engine.info();
    return (this.rootlessCache = (info.SecurityOptions ?? []).some((o) => o.includes('userns')));
  }

  private cloneOptions(run: ProvisionRun): CloneOptions {
    return { progress: run.opts.progress, signal: run.opts.signal, ...(run.serverUrl ? { serverUrl: run.serverUrl } : {}) };
  }

  /** Every start is a fresh container on the same storage; the user is read from it when not known yet. */
  private async createAndStart(run: ProvisionRun): Promise<void> {
    const { ws, image, imageRef } = run;
    const spec = this.rt.containerSpec(ws, image, imageRef, run.user);
    const id = await this.createContainer(spec, run.opts.progress);
    run.containerId = id;
    run.user ??= await this.rt.user(image, ws.spec.user, imageRef, id);
    await this.rt.engine.startContainer(id);
  }

  /** A container with the workspace's name, left by an earlier attempt or an earlier start, is replaced. */
  private async createContainer(spec: Docker.ContainerCreateOptions, progress: ProgressSink): Promise<string> {
    try {
      return await this.rt.engine.createContainer(spec);
    } catch (err) {
      if (err instanceof ProvisionerError && err.retryable && spec.name) {
        await this.rt.engine.removeContainer(spec.name);
        progress('Replaced the previous container of this workspace.', 'info');
        return await this.rt.engine.createContainer(spec);
      }
      throw err;
    }
  }

  /**
   * The checkout's share of the upload: its marker once it is owned by the workspace user, and on
   * volumes the checkout itself, cloned into `tmpClone` (a partial one is moved aside first).
   */
  private async checkoutEntries(run: ProvisionRun, tmpClone: string | undefined): Promise<TarEntry[]> {
    const { ws, opts } = run;
    const u = run.user!;
    const mp = ws.spec.mountPath;
    if (run.checkout === 'complete') {
      opts.progress(KEEPING, 'info');
      return [];
    }
    const marker: TarEntry = { type: 'file', path: `${mp.slice(1)}/.berth/${CHECKOUT_MARKER}`, mode: 0o600, uid: u.uid, gid: u.gid, data: Buffer.from(`${new Date().toISOString()}\n`) };
    if (run.hostDir && run.checkout === 'absent' && (await this.onHost(run))) {
      writeMarkerOnHost(run.hostDir, u);
      return [];
    }
    if (run.hostDir) {
      // Fresh clones were chowned before the move; a checkout without the marker (a crash in between, or a server that cannot chown) is fixed inside the container.
      if (run.checkout === 'incomplete' || (await this.rootless())) await this.chownInContainer(run, `${mp}/work`);
      if (run.checkout === 'incomplete') opts.progress(KEEPING, 'info');
      return [marker];
    }
    if (run.checkout === 'incomplete') await this.moveAside(run);
    // Remote engine: clone on this host and stream the checkout into the volume, the marker last.
    await cloneOnHost(run.host, tmpClone!, this.cloneOptions(run));
    opts.progress('Copying the checkout into the workspace volume.', 'info');
    const entries: TarEntry[] = [];
    for await (const e of directoryEntries(tmpClone!, `${mp.slice(1)}/work`, u.uid, u.gid)) entries.push(e);
    entries.push(marker);
    return entries;
  }

  /** An upload cut short by a crash: kept aside, never deleted, in case it holds anything of value. */
  private async moveAside(run: ProvisionRun): Promise<void> {
    const mp = run.ws.spec.mountPath;
    const aside = `${mp}/.berth/incomplete-checkout-${Date.now()}`;
    const res = await this.rt.engine.run(run.containerId!, { cmd: ['mv', `${mp}/work`, aside], user: '0', trackPid: false });
    if (res.code !== 0) throw new ProvisionerError(`${mp}/work is incomplete and cannot be moved aside (mv exit code ${res.code}).`, { code: 'clone_failed' });
    run.opts.progress(`Moved an incomplete checkout aside to ${aside}.`, 'info');
  }

  private async chownInContainer(run: ProvisionRun, dir: string): Promise<void> {
    const u = run.user!;
    const res = await this.rt.engine.run(run.containerId!, { cmd: ['chown', '-R', `${u.uid}:${u.gid}`, dir], user: '0', onLine: (l) => run.opts.progress(l) });
    if (res.code !== 0) throw new ProvisionerError(`Giving the checkout to the workspace user failed (chown exit code ${res.code}).`, { retryable: false, code: 'clone_failed' });
  }
}

/** A `work/` without `.git` is cloned into only when empty: files there are never overwritten. */
async function assertWorkClean(hostDir: string): Promise<void> {
  const work = path.join(hostDir, 'work');
  if (fs.existsSync(work) && fs.readdirSync(work).length > 0) {
    throw new ProvisionerError(`${work} exists but is not a git checkout; move its files away or delete the workspace.`, { retryable: false, code: 'clone_failed' });
  }
  await fs.promises.rm(work, { recursive: true, force: true });
}

/**
 * Directory entries that give the workspace user the directories leading to home-relative mounts
 * (in the container's own layer, so needed for every fresh container) and, with `roots`, the
 * mount roots themselves (storage, shared stores).
 */
function ownershipEntries(ws: WorkspaceContext, u: ContainerUser, roots: boolean): TarEntry[] {
  const mp = ws.spec.mountPath.slice(1);
  const dirs = new Map<string, number>();
  if (roots) {
    dirs.set(mp, 0o755);
    dirs.set(`${mp}/.berth`, 0o700);
  }
  for (const p of [...ws.spec.userData, ...ws.spec.caches]) {
    const target = expandHome(p, u.home);
    for (const d of userDirsTo(target, u.home)) if (!dirs.has(d)) dirs.set(d, 0o755);
    if (roots) dirs.set(target.slice(1), 0o755);
  }
  return [...dirs].map(([p, mode]) => ({ type: 'dir' as const, path: p, mode, uid: u.uid, gid: u.gid }));
}

/** Directories strictly between home and `target` (relative, no leading slash), when target lies under home. */
function userDirsTo(target: string, home: string): string[] {
  const h = home.replace(/\/+$/, '');
  if (h === '' || !target.startsWith(`${h}/`)) return [];
  const parts = target.slice(h.length + 1).split('/');
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(`${h.slice(1)}/${parts.slice(0, i).join('/')}`);
  return out;
}

/** Config files as archive entries: owned by the workspace user under home and the mount path, by root elsewhere. */
export function fileEntries(ws: WorkspaceContext, u: ContainerUser): TarEntry[] {
  const out: TarEntry[] = [];
  const seen = new Set<string>();
  for (const f of ws.spec.files) {
    const target = expandHome(f.path, u.home);
    const mine = target.startsWith(`${ws.spec.mountPath}/`) || target.startsWith(`${u.home.replace(/\/+$/, '')}/`);
    const dirs = mine ? [...userDirsTo(target, u.home), ...userDirsTo(target, ws.spec.mountPath)] : [];
    for (const d of dirs) {
      if (seen.has(d)) continue;
      seen.add(d);
      out.push({ type: 'dir', path: d, mode: 0o755, uid: u.uid, gid: u.gid });
    }
    out.push({ type: 'file', path: target.slice(1), mode: f.mode, uid: mine ? u.uid : 0, gid: mine ? u.gid : 0, data: Buffer.from(f.content) });
  }
  return out;
}
