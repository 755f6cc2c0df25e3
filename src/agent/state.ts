/**
 * Desired state per workspace, persisted under `state/` so that the agent converges on it after its
 * own restart while the control plane is away. Each file holds the workspace's short-lived
 * credentials (token, registry logins), so it is written 0600 and replaced atomically.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { WireWorkspace } from './protocol.ts';
import { checkWorkspaceId } from './root.ts';

/** What the agent keeps about one workspace. */
export interface DesiredRecord {
  desired: 'running' | 'stopped' | 'deleted';
  /** Increases with every change of desired state (a replayed PUT leaves it as it is). */
  generation: number;
  /** The generation the agent last converged on (0: never). */
  applied: number;
  workspace: WireWorkspace;
  /** `<installation>/<provisioner>` of the control plane that put it. */
  controller?: string;
}

/** The records in `state/<id>.json`. */
export class DesiredStore {
  private readonly records = new Map<string, DesiredRecord>();

  constructor(private readonly dir: string) {
    for (const f of fs.readdirSync(dir)) {
      if (!f.endsWith('.json')) continue;
      try {
        const r = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as DesiredRecord;
        this.records.set(checkWorkspaceId(r.workspace.id), r);
      } catch {
        // A torn or foreign file: the control plane's next PUT writes it again.
      }
    }
  }

  get(id: string): DesiredRecord | undefined {
    return this.records.get(id);
  }

  all(): DesiredRecord[] {
    return [...this.records.values()];
  }

  /** Stores a record: to a temp file (0600) first, then renamed over the old one. */
  save(r: DesiredRecord): void {
    const file = path.join(this.dir, `${checkWorkspaceId(r.workspace.id)}.json`);
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(r), { mode: 0o600 });
    fs.renameSync(`${file}.tmp`, file);
    this.records.set(r.workspace.id, r);
  }

  remove(id: string): void {
    fs.rmSync(path.join(this.dir, `${checkWorkspaceId(id)}.json`), { force: true });
    this.records.delete(id);
  }
}
