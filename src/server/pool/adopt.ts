/** The reconciler's provision step for a workspace whose runtime was claimed from the warm pool. */
import type { OpOptions, Provisioner, RuntimeStatus, WorkspaceContext } from '../../provisioners/provisioner.ts';
import type { WorkspaceRow } from '../../store/store.ts';
import type { EventLog } from '../events.ts';
import { provisionWorkspace, type ForkStepDeps } from '../fork.ts';

/** What the reconciler knows of the pool: whether a workspace's runtime awaits adoption (true once). */
export interface PoolClaims {
  adopt(workspaceId: string): boolean;
  /** Ids the pool holds on backends without a workspace row; not orphans. */
  reserved(): Set<string>;
}

/** No pool: every workspace is provisioned. */
export const NO_POOL: PoolClaims = { adopt: () => false, reserved: () => new Set() };

/**
 * Adopts a claimed runtime (files, setup; no clone, no new runtime), or provisions as usual. An
 * adoption that fails is retried as a full provision, which converges on the same storage.
 */
export async function provisionOrAdopt(
  o: ForkStepDeps & { pool: PoolClaims; events: EventLog },
  row: WorkspaceRow,
  provisioner: Provisioner,
  ctx: WorkspaceContext,
  opts: OpOptions,
): Promise<RuntimeStatus> {
  if (provisioner.capabilities.warmPool && provisioner.adopt && !row.fork_stage && o.pool.adopt(row.id)) {
    await o.events.append(row.id, 'info', 'Using a runtime prepared ahead in the warm pool (storage, checkout and runtime were ready).');
    return provisioner.adopt(ctx, opts);
  }
  return provisionWorkspace(o, row, provisioner, ctx, opts);
}
