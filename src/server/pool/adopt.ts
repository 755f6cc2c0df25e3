/** The reconciler's provision step for a workspace whose runtime was claimed from the warm pool. */
import type { OpOptions, Provisioner, RuntimeStatus, WorkspaceContext } from '../../provisioners/provisioner.ts';
import type { WorkspaceRow } from '../../store/store.ts';
import type { EventLog } from '../events.ts';
import { provisionWorkspace, type ForkStepDeps } from '../fork.ts';

/** What the reconciler knows of the pool: whether a workspace's runtime was claimed and may be adopted. */
export interface PoolClaims {
  /** `adopt`: claimed and current; `stale`: claimed but made from an older commit; undefined: not claimed. Answers once. */
  claim(workspaceId: string, signal: AbortSignal): Promise<'adopt' | 'stale' | undefined>;
  /** Ids the pool holds on backends without a workspace row; not orphans. */
  reserved(): Set<string>;
}

/** No pool: every workspace is provisioned. */
export const NO_POOL: PoolClaims = { claim: () => Promise.resolve(undefined), reserved: () => new Set() };

/**
 * Adopts a claimed runtime (files, setup; no clone, no new runtime), or provisions as usual. A
 * claimed runtime whose checkout the project has moved past is removed first (it never had a
 * user), so the workspace gets what a cold create gets. An adoption that fails is retried as a
 * full provision, which converges on the same storage.
 */
export async function provisionOrAdopt(
  o: ForkStepDeps & { pool: PoolClaims; events: EventLog },
  row: WorkspaceRow,
  provisioner: Provisioner,
  ctx: WorkspaceContext,
  opts: OpOptions,
): Promise<RuntimeStatus> {
  const claim = provisioner.capabilities.warmPool && provisioner.adopt && !row.fork_stage ? await o.pool.claim(row.id, opts.signal) : undefined;
  if (claim === 'adopt' && provisioner.adopt) {
    await o.events.append(row.id, 'info', 'Using a runtime prepared ahead in the warm pool (storage, checkout and runtime were ready).');
    return provisioner.adopt(ctx, opts);
  }
  if (claim === 'stale') {
    await o.events.append(row.id, 'info', 'The runtime prepared in the warm pool was made before the project moved; a new one is provisioned.');
    await provisioner.destroy(ctx, opts);
  }
  return provisionWorkspace(o, row, provisioner, ctx, opts);
}
