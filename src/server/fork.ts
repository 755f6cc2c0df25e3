/**
 * Forking a workspace: new workspaces (own row, id, token, env, ports and events) whose storage
 * starts as a copy of the source's files, each on a branch of its own. The request only stores
 * the rows (`fork_stage = 'copy'`); the reconciler's provision then copies the files through the
 * provisioner's `copyStorage`, provisions on the copy (which adopts the checkout instead of cloning)
 * and checks out the fork's branch. Each step is recorded, so a crash at any point converges.
 */
import { ConflictError, ForbiddenError, InputError, ProvisionerError, throwIfAborted } from '../core/errors.ts';
import { assertName } from '../core/names.ts';
import type { OpOptions, Provisioner, RuntimeStatus, WorkspaceContext } from '../provisioners/provisioner.ts';
import { validateSpecFor } from '../provisioners/registry.ts';
import { newWorkspaceRow, type Store, type WorkspaceRow } from '../store/store.ts';
import type { ForkWorkspace, Workspace } from '../sdk/wire.ts';
import type { Principal } from './auth.ts';
import type { WorkspaceContexts } from './contexts.ts';
import { newId } from './secrets.ts';
import type { WorkspaceService, WorkspaceServiceOptions } from './workspaces.ts';

/** The names and branches of `count` forks called `name`: NAME and fork/NAME, or NAME-i and BRANCH-i. */
export function forkTargets(input: ForkWorkspace): { name: string; branch: string }[] {
  const count = input.count ?? 1;
  if (!Number.isInteger(count) || count < 1 || count > 50) throw new InputError(`A fork count must be a whole number from 1 to 50; got ${count}.`);
  const out: { name: string; branch: string }[] = [];
  for (let i = 1; i <= count; i++) {
    const name = count === 1 ? input.name : `${input.name}-${i}`;
    assertName(name, 'Workspace name');
    const branch = input.branch ? (count === 1 ? input.branch : `${input.branch}-${i}`) : `fork/${name}`;
    out.push({ name, branch });
  }
  return out;
}

/**
 * Forks the workspace `sourceRef` into `input.count` new ones (all or none are created), owned by
 * the caller, in the source's project with its spec and provisioner. Needs the developer role on
 * the project and room in the quotas for every fork, like creating workspaces.
 */
export async function forkWorkspace(o: WorkspaceServiceOptions, svc: WorkspaceService, p: Principal, sourceRef: string, input: ForkWorkspace): Promise<Workspace[]> {
  if (p.kind !== 'user') throw new ForbiddenError('A workspace token cannot fork workspaces; use a user token.');
  const targets = forkTargets(input);
  const source = await svc.resolve(p, sourceRef);
  const project = await o.projects.find(p, source.project_id, 'createWorkspace');
  if (!o.registry.has(source.provisioner)) throw new ConflictError(`The provisioner "${source.provisioner}" of workspace "${source.name}" is not available now (see berth provisioner list); fork it once it is.`);
  const provisioner = o.registry.get(source.provisioner);
  if (!provisioner.capabilities.fork || !provisioner.copyStorage) {
    throw new InputError(`Workspaces of the "${provisioner.name}" provisioner (type ${provisioner.type}) cannot be forked; create a new workspace instead.`);
  }
  if (provisioner.capabilities.runsOnHost && p.user.role !== 'admin') {
    throw new ForbiddenError(`The "${provisioner.name}" provisioner runs workspaces as the server's own user, so only admins may fork its workspaces.`);
  }
  if (source.desired === 'deleted') throw new ConflictError(`Workspace "${source.name}" is being deleted and cannot be forked.`);
  if ((source.phase !== 'running' && source.phase !== 'stopped') || source.fork_stage) {
    throw new ConflictError(`Workspace "${source.name}" is ${source.fork_stage ? 'still being forked' : source.phase}; fork it once it is running or stopped (berth ws show ${source.name}).`);
  }
  const spec = o.codec.decode(source.spec_json);
  await validateSpecFor(provisioner, spec);

  const rows: WorkspaceRow[] = [];
  try {
    for (const t of targets) {
      const insert = () =>
        o.store.createWorkspace(
          newWorkspaceRow({
            id: newId('ws'),
            name: t.name,
            owner_id: p.user.id,
            project_id: source.project_id,
            ref: source.ref,
            provisioner: source.provisioner,
            spec_json: source.spec_json,
            forked_from: source.id,
            fork_branch: t.branch,
            fork_stage: 'copy',
          }),
        );
      rows.push(await (o.policy ? o.policy.admit({ user: p.user, project, provisioner: provisioner.name, spec }, insert) : insert()));
    }
  } catch (err) {
    // All or none: rows stored so far were never kicked, so nothing was provisioned for them.
    for (const r of rows) await o.store.deleteWorkspace(r.id);
    throw err;
  }
  for (const r of rows) {
    await o.events.append(r.id, 'phase', 'pending');
    await o.events.append(r.id, 'info', `Forked from ${source.name} (${source.id}) onto branch ${r.fork_branch}.`);
    o.reconciler.kick(r.id);
  }
  return Promise.all(rows.map((r) => svc.toWire(r)));
}

/** The lineage a forked workspace shows in the API (`forkedFrom`), or nothing for a workspace that is not a fork. */
export async function forkLineage(store: Store, row: WorkspaceRow, sourceName: (source: WorkspaceRow) => Promise<string>): Promise<Pick<Workspace, 'forkedFrom'>> {
  if (!row.forked_from) return {};
  const source = await store.getWorkspace(row.forked_from);
  return { forkedFrom: { id: row.forked_from, name: source ? await sourceName(source) : null, branch: row.fork_branch ?? '', copied: row.fork_stage === null } };
}

/** What the reconciler's provision of a fork needs. */
export interface ForkStepDeps {
  store: Store;
  contexts: WorkspaceContexts;
}

/**
 * The reconciler's provision: for a fork whose files are not copied yet, first the copy of its
 * source's storage; then the provisioner's own provision (which adopts the copied checkout); then,
 * for a fork, its branch. A plain workspace is just provisioned.
 */
export async function provisionWorkspace(o: ForkStepDeps, row: WorkspaceRow, provisioner: Provisioner, ctx: WorkspaceContext, opts: OpOptions): Promise<RuntimeStatus> {
  if (!row.fork_stage) return provisioner.provision(ctx, opts);
  if (row.fork_stage === 'copy') {
    await copyFromSource(o, row, provisioner, ctx, opts);
    await o.store.updateWorkspace(row.id, { fork_stage: 'branch' });
  }
  const status = await provisioner.provision(ctx, opts);
  await checkoutBranch(provisioner, ctx, row.fork_branch ?? `fork/${row.name}`, opts);
  await o.store.updateWorkspace(row.id, { fork_stage: null });
  return status;
}

async function copyFromSource(o: ForkStepDeps, row: WorkspaceRow, provisioner: Provisioner, ctx: WorkspaceContext, opts: OpOptions): Promise<void> {
  const source = row.forked_from ? await o.store.getWorkspace(row.forked_from) : undefined;
  if (!source || source.desired === 'deleted') {
    throw new ProvisionerError(`The workspace this one was forked from (${row.forked_from ?? 'unknown'}) was deleted before its files were copied; delete this one and fork again.`, { retryable: false });
  }
  if (!provisioner.copyStorage || source.provisioner !== row.provisioner) {
    throw new ProvisionerError(`The "${provisioner.name}" provisioner cannot copy the files of workspace "${source.name}"; delete this one and create a new workspace instead.`, { retryable: false });
  }
  opts.progress(`Copying files from ${source.name} (${source.id}).`, 'info');
  const started = Date.now();
  await provisioner.copyStorage(await o.contexts.current(source), ctx, opts);
  throwIfAborted(opts.signal);
  opts.progress(`Copied the files of ${source.name} in ${((Date.now() - started) / 1000).toFixed(1)}s.`, 'info');
}

/**
 * Checks out `branch` in the copied checkout, made from its HEAD with the uncommitted changes kept
 * (`git switch -c`). Without git in the image it does the same by hand: a ref at HEAD's commit, and
 * HEAD pointing to it. Run again after a crash, a checkout already on the branch is left alone.
 */
export const BRANCH_SCRIPT = `set -e
b="$1"
if command -v git >/dev/null 2>&1; then
  [ "$(git symbolic-ref -q --short HEAD || true)" = "$b" ] && exit 0
  exec git switch -q -c "$b"
fi
head=$(cat .git/HEAD)
[ "$head" = "ref: refs/heads/$b" ] && exit 0
if [ -e ".git/refs/heads/$b" ]; then echo "fatal: a branch named '$b' already exists" >&2; exit 1; fi
case "$head" in
  "ref: "*) ref=\${head#ref: }; sha=$(cat ".git/$ref" 2>/dev/null || sed -n "s| $ref\\$||p" .git/packed-refs 2>/dev/null | head -n 1) ;;
  *) sha=$head ;;
esac
if [ -n "$sha" ]; then
  mkdir -p "$(dirname ".git/refs/heads/$b")"
  echo "$sha" > ".git/refs/heads/$b"
fi
echo "ref: refs/heads/$b" > .git/HEAD
`;

async function checkoutBranch(provisioner: Provisioner, ctx: WorkspaceContext, branch: string, opts: OpOptions): Promise<void> {
  const proc = await provisioner.exec(ctx, { cmd: ['/bin/sh', '-c', BRANCH_SCRIPT, 'berth-fork', branch], tty: false, signal: opts.signal });
  proc.stdin.end();
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-2000);
  };
  proc.stdout.on('data', keep);
  proc.stderr?.on('data', keep);
  const { code } = await proc.exited;
  throwIfAborted(opts.signal);
  const last = output.trim().split('\n').pop() ?? '';
  if (code !== 0) {
    throw new ProvisionerError(`Checking out branch ${branch} in the fork's copied checkout failed (exit code ${code})${last ? `: ${last}` : ''}.`, { retryable: false, code: 'clone_failed' });
  }
  opts.progress(`Checked out the new branch ${branch}; uncommitted changes were carried over.`, 'info');
}
