/** What a warm pool compares its checkouts with: the commit a cold create's clone would check out now. */
import type { Store } from '../../store/store.ts';
import type { GitMirrors } from '../git/mirrors.ts';
import type { ProjectService } from '../projects.ts';

/**
 * The commit of `ref` (null: the project's default branch) in the project's mirror. With `sync`, the
 * mirror is first made as fresh as a cold create makes it (`--git-freshness`); without, it is read
 * as it is. Undefined when the project or mirror is gone.
 */
export type MirrorHead = (projectId: string, ref: string | null, opts: { sync: boolean; signal?: AbortSignal }) => Promise<string | undefined>;

/** Reads heads from the git gateway's mirrors. */
export function mirrorHeads(store: Store, projects: Pick<ProjectService, 'mirrorProject'>, mirrors: GitMirrors): MirrorHead {
  return async (projectId, ref, { sync, signal }) => {
    const row = await store.getProject(projectId);
    if (!row) return undefined;
    const p = projects.mirrorProject(row);
    if (sync) await mirrors.prepare(p, signal);
    if (!mirrors.exists(p.name)) return undefined;
    return mirrors.commitOf(p.name, ref ?? undefined);
  };
}
