/**
 * Workspace storage on the agent's host: the docker runtime's bind storage under `workspaces/`,
 * with user data and caches in directories of their own per user and per project
 * (`userdata/<user>/<key>`, `caches/<project>/<key>`), so an operator sees whose files are whose.
 */
import fs from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import { BindStorage, type SharedStore } from '../provisioners/docker/storage.ts';
import { removeTree } from '../provisioners/remove-tree.ts';
import { checkSegment, type AgentRoot } from './root.ts';

/** Bind storage laid out as the agent's root documents it. */
export class AgentStorage extends BindStorage {
  /** Store key → its directory; filled by ensureShared and, after a restart, by a look-up. */
  private readonly sharedDirs = new Map<string, string>();

  constructor(private readonly agentRoot: AgentRoot) {
    super(agentRoot.workspaces);
  }

  private sharedDirOf(s: SharedStore): string {
    const top = s.kind === 'userdata' ? 'userdata' : 'caches';
    return this.agentRoot.inside(top, checkSegment(s.scope, s.kind === 'userdata' ? 'user id' : 'project name'), checkSegment(s.key, 'store key'));
  }

  /** Finds a store's directory by its key (keys are hashes, unique across users and projects). */
  private findShared(key: string): string | undefined {
    checkSegment(key, 'store key');
    const known = this.sharedDirs.get(key);
    if (known) return known;
    for (const top of ['userdata', 'caches']) {
      const base = this.agentRoot.inside(top);
      for (const scope of fs.readdirSync(base)) {
        const d = path.join(base, scope, key);
        if (fs.existsSync(d)) {
          this.sharedDirs.set(key, d);
          return d;
        }
      }
    }
    return undefined;
  }

  override async ensureShared(s: SharedStore): Promise<void> {
    const d = this.sharedDirOf(s);
    fs.mkdirSync(d, { recursive: true, mode: 0o755 });
    this.sharedDirs.set(s.key, d);
  }

  override sharedMount(key: string, target: string): Docker.MountSettings {
    const d = this.findShared(key);
    if (!d) throw new Error(`The shared store ${key} does not exist under the agent's root.`);
    return { Type: 'bind', Source: d, Target: target };
  }

  override async removeShared(key: string): Promise<void> {
    const d = this.findShared(key);
    this.sharedDirs.delete(key);
    if (d) await removeTree(d);
  }

  override async rootsOwnedBy(id: string, sharedKeys: string[], uid: number): Promise<boolean> {
    const shared = sharedKeys.map((k) => this.findShared(k));
    if (shared.some((d) => !d)) return false;
    const dirs = [this.hostDir(id), path.join(this.hostDir(id), '.berth'), ...(shared as string[])];
    return dirs.every((d) => fs.statSync(d, { throwIfNoEntry: false })?.uid === uid);
  }
}
