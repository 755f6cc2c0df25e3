/**
 * Workspace storage on a Docker engine. Two kinds behind one interface:
 *  - `bind`: a directory per workspace under the provisioner's root on the engine's host
 *    (only for an engine on this machine), bind-mounted at the mount path;
 *  - `volume`: a named volume `berth-ws-<id>` per workspace, for remote engines where host
 *    paths mean nothing.
 * Per-user data and per-project caches are directories or volumes of their own, keyed so that every
 * workspace of the same user (or project) mounts the same one. Which shared stores a workspace uses
 * is recorded with its storage (a metadata file, or labels on its volume), so deleting a workspace
 * removes exactly the shared stores no other workspace uses, even when the spec is no longer known.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import { ProvisionerError } from '../../core/errors.ts';
import { removeTree } from '../remove-tree.ts';
import type { DockerEngine } from './engine.ts';

/** Label keys on everything Berth creates on an engine. No secrets ever go into labels. */
export const LABELS = {
  installation: 'berth.installation',
  provisioner: 'berth.provisioner',
  workspace: 'berth.workspace',
  kind: 'berth.kind',
  name: 'berth.workspace-name',
  owner: 'berth.owner',
  project: 'berth.project',
  shared: 'berth.shared',
  path: 'berth.path',
} as const;

/** What is recorded about a workspace's storage. */
export interface StorageMeta {
  id: string;
  owner: string;
  project: string;
  image: string;
  /** Keys of the shared stores (user data, caches) this workspace mounts. */
  shared: string[];
}

/** A user-data or cache store. */
export interface SharedStore {
  key: string;
  kind: 'userdata' | 'cache';
  /** Owner id (user data) or project name (caches). */
  scope: string;
  /** The spec path it is mounted at (`~/.npm`). */
  path: string;
}

/** Key of a shared store: readable prefix plus a hash of installation, scope and path. */
export function sharedKey(installation: string, kind: 'userdata' | 'cache', scope: string, p: string): string {
  const h = crypto.createHash('sha256').update(`${installation}\0${kind}\0${scope}\0${p}`).digest('hex').slice(0, 16);
  return `${kind === 'userdata' ? 'ud' : 'cache'}-${h}`;
}

const ID_RE = /^ws_[a-z0-9]+$/;

/** Validates a workspace id before it names a directory or volume. */
export function checkId(id: string): string {
  if (!ID_RE.test(id)) throw new ProvisionerError(`Invalid workspace id "${id}".`, { retryable: false });
  return id;
}

/** Where a workspace's files live on an engine. */
export interface WorkspaceStorage {
  readonly kind: 'bind' | 'volume';
  /** Creates the workspace's storage and records `meta`; returns true when it did not exist before. */
  ensure(meta: StorageMeta): Promise<boolean>;
  exists(id: string): Promise<boolean>;
  meta(id: string): Promise<StorageMeta | null>;
  /** Every workspace's recorded metadata (for sharing decisions). */
  metas(): Promise<StorageMeta[]>;
  /** Ids of workspaces with storage. */
  list(): Promise<string[]>;
  /** The mount of the workspace's storage at `target`. */
  mount(id: string, target: string): Docker.MountSettings;
  ensureShared(s: SharedStore): Promise<void>;
  sharedMount(key: string, target: string): Docker.MountSettings;
  removeShared(key: string): Promise<void>;
  /** Removes the workspace's storage and its metadata. */
  remove(id: string): Promise<void>;
  /** Whether the workspace's and the shared stores' root directories are known to belong to `uid` already (false = unknown). */
  rootsOwnedBy(id: string, sharedKeys: string[], uid: number): Promise<boolean>;
  /** For bind storage: a directory on the same filesystem, out of every workspace's reach, for work in progress. */
  scratchDir?(): string;
  /** For bind storage: the host directory (fast checks and host-side clones); undefined for volumes. */
  hostDir(id: string): string | undefined;
  /** Human-readable location for `ws show`. */
  describe(id: string): string;
}

/** Directories on the engine's (= this) host. */
export class BindStorage implements WorkspaceStorage {
  readonly kind = 'bind';
  private readonly metaDir: string;
  private readonly sharedDir: string;

  constructor(private readonly root: string) {
    fs.mkdirSync(root, { recursive: true, mode: 0o700 });
    this.metaDir = path.join(root, '.meta');
    this.sharedDir = path.join(root, 'shared');
  }

  hostDir(id: string): string {
    return path.join(this.root, checkId(id));
  }

  scratchDir(): string {
    const d = path.join(this.root, '.tmp');
    fs.mkdirSync(d, { recursive: true, mode: 0o700 });
    return d;
  }

  /** Removes scratch directories a crash left behind for a workspace. */
  private async clearScratch(id: string): Promise<void> {
    const d = path.join(this.root, '.tmp');
    for (const e of fs.existsSync(d) ? fs.readdirSync(d) : []) if (e.startsWith(`${id}-`)) await removeTree(path.join(d, e));
  }

  describe(id: string): string {
    return this.hostDir(id);
  }

  async ensure(meta: StorageMeta): Promise<boolean> {
    const dir = this.hostDir(meta.id);
    fs.mkdirSync(this.metaDir, { recursive: true, mode: 0o700 });
    // Metadata first: a crash right after still leaves the shared stores accounted for.
    const metaFile = path.join(this.metaDir, `${meta.id}.json`);
    fs.writeFileSync(`${metaFile}.tmp`, JSON.stringify(meta));
    fs.renameSync(`${metaFile}.tmp`, metaFile);
    const created = !fs.existsSync(dir);
    fs.mkdirSync(path.join(dir, '.berth'), { recursive: true });
    await this.clearScratch(meta.id);
    return created;
  }

  async exists(id: string): Promise<boolean> {
    return fs.existsSync(this.hostDir(id));
  }

  async rootsOwnedBy(id: string, sharedKeys: string[], uid: number): Promise<boolean> {
    const dirs = [this.hostDir(id), path.join(this.hostDir(id), '.berth'), ...sharedKeys.map((k) => path.join(this.sharedDir, k))];
    return dirs.every((d) => fs.statSync(d, { throwIfNoEntry: false })?.uid === uid);
  }

  async meta(id: string): Promise<StorageMeta | null> {
    try {
      return JSON.parse(fs.readFileSync(path.join(this.metaDir, `${checkId(id)}.json`), 'utf8')) as StorageMeta;
    } catch {
      return null;
    }
  }

  async metas(): Promise<StorageMeta[]> {
    let files: string[] = [];
    try {
      files = fs.readdirSync(this.metaDir).filter((f) => f.endsWith('.json'));
    } catch {
      return [];
    }
    const out: StorageMeta[] = [];
    for (const f of files) {
      const m = await this.meta(f.slice(0, -5)).catch(() => null);
      if (m) out.push(m);
    }
    return out;
  }

  async list(): Promise<string[]> {
    const ids = new Set(fs.readdirSync(this.root).filter((d) => ID_RE.test(d)));
    for (const m of await this.metas()) ids.add(m.id);
    return [...ids];
  }

  mount(id: string, target: string): Docker.MountSettings {
    return { Type: 'bind', Source: this.hostDir(id), Target: target };
  }

  async ensureShared(s: SharedStore): Promise<void> {
    fs.mkdirSync(path.join(this.sharedDir, s.key), { recursive: true, mode: 0o755 });
  }

  sharedMount(key: string, target: string): Docker.MountSettings {
    return { Type: 'bind', Source: path.join(this.sharedDir, key), Target: target };
  }

  async removeShared(key: string): Promise<void> {
    await removeTree(path.join(this.sharedDir, key));
  }

  async remove(id: string): Promise<void> {
    await this.clearScratch(checkId(id));
    await removeTree(this.hostDir(id));
    await fs.promises.rm(path.join(this.metaDir, `${checkId(id)}.json`), { force: true });
  }
}

/** Named volumes on the engine: `berth-ws-<id>` per workspace, `berth-<key>` per shared store. */
export class VolumeStorage implements WorkspaceStorage {
  readonly kind = 'volume';

  constructor(
    private readonly engine: DockerEngine,
    private readonly labels: { installation: string; provisioner: string },
  ) {}

  static volumeName(id: string): string {
    return `berth-ws-${checkId(id)}`;
  }

  /** The volume of a shared store. */
  private static sharedName(key: string): string {
    return `berth-${key}`;
  }

  hostDir(): undefined {
    return undefined;
  }

  describe(id: string): string {
    return `volume ${VolumeStorage.volumeName(id)}`;
  }

  async ensure(meta: StorageMeta): Promise<boolean> {
    const name = VolumeStorage.volumeName(meta.id);
    if (await this.engine.inspectVolume(name)) return false;
    await this.engine.createVolume(name, {
      [LABELS.installation]: this.labels.installation,
      [LABELS.provisioner]: this.labels.provisioner,
      [LABELS.kind]: 'workspace',
      [LABELS.workspace]: meta.id,
      [LABELS.owner]: meta.owner,
      [LABELS.project]: meta.project,
      [LABELS.shared]: meta.shared.join(','),
      'berth.image': meta.image,
    });
    return true;
  }

  async exists(id: string): Promise<boolean> {
    return (await this.engine.inspectVolume(VolumeStorage.volumeName(id))) !== null;
  }

  async rootsOwnedBy(): Promise<boolean> {
    return false;
  }

  private static toMeta(labels: Record<string, string> | null): StorageMeta | null {
    const id = labels?.[LABELS.workspace];
    if (!labels || !id) return null;
    return { id, owner: labels[LABELS.owner] ?? '', project: labels[LABELS.project] ?? '', image: labels['berth.image'] ?? '', shared: (labels[LABELS.shared] ?? '').split(',').filter(Boolean) };
  }

  async meta(id: string): Promise<StorageMeta | null> {
    const v = await this.engine.inspectVolume(VolumeStorage.volumeName(id));
    return v ? VolumeStorage.toMeta(v.Labels) : null;
  }

  async metas(): Promise<StorageMeta[]> {
    // Every provisioner of this installation on this engine: shared stores are shared across them.
    const vols = await this.engine.listVolumes({ [LABELS.installation]: this.labels.installation, [LABELS.kind]: 'workspace' });
    return vols.map((v) => VolumeStorage.toMeta(v.Labels)).filter((m): m is StorageMeta => m !== null);
  }

  async list(): Promise<string[]> {
    const vols = await this.engine.listVolumes({ [LABELS.installation]: this.labels.installation, [LABELS.provisioner]: this.labels.provisioner, [LABELS.kind]: 'workspace' });
    return vols.map((v) => v.Labels?.[LABELS.workspace]).filter((id): id is string => typeof id === 'string' && ID_RE.test(id));
  }

  mount(id: string, target: string): Docker.MountSettings {
    return { Type: 'volume', Source: VolumeStorage.volumeName(id), Target: target };
  }

  async ensureShared(s: SharedStore): Promise<void> {
    const name = VolumeStorage.sharedName(s.key);
    if (await this.engine.inspectVolume(name)) return;
    await this.engine.createVolume(name, {
      [LABELS.installation]: this.labels.installation,
      [LABELS.kind]: s.kind,
      [s.kind === 'userdata' ? LABELS.owner : LABELS.project]: s.scope,
      [LABELS.path]: s.path,
    });
  }

  sharedMount(key: string, target: string): Docker.MountSettings {
    return { Type: 'volume', Source: VolumeStorage.sharedName(key), Target: target };
  }

  async removeShared(key: string): Promise<void> {
    await this.engine.removeVolume(VolumeStorage.sharedName(key));
  }

  async remove(id: string): Promise<void> {
    await this.engine.removeVolume(VolumeStorage.volumeName(id));
  }
}
