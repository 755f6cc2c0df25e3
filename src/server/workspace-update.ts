/**
 * Changing a workspace's spec (`PATCH /workspaces/{ref}`): the patch is merged into the stored
 * spec, validated as a create is (normalizeSpec, the provisioner's own checks), stored, and applied
 * by provisioning again on the same storage: docker recreates the container on the same volume,
 * kubernetes the pod on the same claim, shell restarts its processes. The workspace's files are
 * never touched beyond the config files the spec writes. The event log says what changed, naming
 * variables and files but never their values.
 */
import { ConflictError, ForbiddenError, InputError } from '../core/errors.ts';
import { assertWorkspacePath } from '../core/names.ts';
import { normalizeSpec, type Resources, type Spec, type SpecInput } from '../core/spec.ts';
import { formatSize, parseSize } from '../core/units.ts';
import type { Phase } from '../core/workspace.ts';
import { validateSpecFor } from '../provisioners/registry.ts';
import type { SpecPatch, Workspace } from '../sdk/wire.ts';
import type { Principal } from './auth.ts';
import type { WorkspaceService, WorkspaceServiceOptions } from './workspaces.ts';

/** Phases in which a spec may change: no operation of the reconciler is under way on a stale spec (one that finished just then would mark the workspace running on it). */
const SETTLED: Phase[] = ['running', 'stopped', 'failed'];

/** The spec with `patch` applied, normalized; throws InputError with a sentence for a patch that cannot apply. */
export function patchSpec(current: Spec, patch: SpecPatch): Spec {
  const given = Object.entries(patch).filter(([, v]) => v !== undefined);
  if (given.length === 0) throw new InputError('Nothing to change: give at least one of image, resources, env, unsetEnv, files or removeFiles.');
  const unset = new Set(patch.unsetEnv ?? []);
  for (const name of unset) {
    if (!current.env.some((e) => e.name === name)) throw new InputError(`The workspace has no variable ${name} to unset.`);
    if (patch.env?.some((e) => e.name === name)) throw new InputError(`Variable ${name} is both set and unset; give it once.`);
  }
  const removed = new Set((patch.removeFiles ?? []).map((p, i) => assertWorkspacePath(p, `removeFiles[${i}]`)));
  for (const p of removed) if (!current.files.some((f) => f.path === p)) throw new InputError(`The workspace's spec writes no file ${p} to remove.`);
  const setEnv = new Set((patch.env ?? []).map((e) => e.name));
  const setFiles = new Set((patch.files ?? []).map((f, i) => assertWorkspacePath(f.path, `files[${i}].path`)));
  const input: SpecInput = {
    ...current,
    ...(patch.image !== undefined ? { image: patch.image } : {}),
    env: [...current.env.filter((e) => !unset.has(e.name) && !setEnv.has(e.name)), ...(patch.env ?? [])],
    files: [...current.files.filter((f) => !removed.has(f.path) && !setFiles.has(f.path)), ...(patch.files ?? [])],
    resources: patchResources(current.resources, patch.resources),
  };
  return normalizeSpec(input);
}

function patchResources(current: Resources, patch: SpecPatch['resources']): SpecInput['resources'] {
  const out: NonNullable<SpecInput['resources']> = { ...current };
  for (const key of ['cpus', 'pids', 'memory', 'disk'] as const) {
    const v = patch?.[key];
    if (v === undefined) continue;
    if (key === 'disk') {
      // The storage keeps the size it was made with: a new limit would be stored yet not honoured.
      if (v === null || current.disk === undefined || parseSize(v, 'resources.disk') !== current.disk) {
        throw new InputError("resources.disk cannot change: the workspace's storage keeps the size it was created with.");
      }
      continue;
    }
    if (v === null) delete out[key];
    else if (key === 'memory') out.memory = v;
    else if (typeof v !== 'number') throw new InputError(`resources.${key} must be a number.`);
    else if (key === 'pids') out.pids = v;
    else out.cpus = v;
  }
  return out;
}

/** "image a → b, env +FOO, memory 512MiB → 1GiB": what changed from `before` to `after`, without any value of a variable or file. */
export function describeSpecChange(before: Spec, after: Spec): string[] {
  const out: string[] = [];
  if (before.image !== after.image) out.push(`image ${before.image ?? '(default)'} → ${after.image ?? '(default)'}`);
  const fmt = (k: keyof Resources, v: number | undefined) => (v === undefined ? 'none' : k === 'memory' || k === 'disk' ? formatSize(v) : String(v));
  for (const k of ['cpus', 'memory', 'pids'] as const) {
    if (before.resources[k] !== after.resources[k]) out.push(`${k} ${fmt(k, before.resources[k])} → ${fmt(k, after.resources[k])}`);
  }
  out.push(...delta('env', before.env, after.env, (e) => e.name, (a, b) => a.value === b.value && a.secret === b.secret));
  out.push(...delta('file', before.files, after.files, (f) => f.path, (a, b) => a.content === b.content && a.mode === b.mode && a.secret === b.secret));
  return out;
}

/** `+name` added, `-name` removed, `~name` changed. */
function delta<T>(what: string, before: T[], after: T[], key: (t: T) => string, same: (a: T, b: T) => boolean): string[] {
  const old = new Map(before.map((t) => [key(t), t]));
  const now = new Map(after.map((t) => [key(t), t]));
  const out: string[] = [];
  for (const [k, t] of now) {
    const was = old.get(k);
    if (!was) out.push(`${what} +${k}`);
    else if (!same(was, t)) out.push(`${what} ~${k}`);
  }
  for (const k of old.keys()) if (!now.has(k)) out.push(`${what} -${k}`);
  return out;
}

/**
 * Applies a spec change: validated like a create, stored, then (for a workspace that should run)
 * provisioned again on the same storage. A patch that changes nothing changes nothing.
 */
export async function updateWorkspace(o: WorkspaceServiceOptions, service: WorkspaceService, p: Principal, ref: string, patch: SpecPatch): Promise<Workspace> {
  if (p.kind !== 'user') throw new ForbiddenError("A workspace token cannot change its workspace's spec.");
  const row = await service.resolve(p, ref);
  if (row.desired === 'deleted') throw new ConflictError(`Workspace "${row.name}" is being deleted; its spec can no longer change.`);
  if (!SETTLED.includes(row.phase)) throw new ConflictError(`Workspace "${row.name}" is ${row.phase}; change its spec once it is running, stopped or failed (berth ws show ${row.name}).`);
  const provisioner = o.registry.get(row.provisioner);
  if (provisioner.capabilities.runsOnHost && p.user.role !== 'admin') {
    throw new ForbiddenError(`The "${provisioner.name}" provisioner runs workspaces as the server's own user, so only admins may change their spec.`);
  }
  const before = o.codec.decode(row.spec_json);
  const after = patchSpec(before, patch);
  await validateSpecFor(provisioner, after);
  const changes = describeSpecChange(before, after);
  if (changes.length === 0) return service.toWire(row);
  const reprovision = row.desired === 'running';
  const write = () =>
    o.store.updateWorkspace(
      row.id,
      {
        spec_json: o.codec.encode(after),
        updated_at: new Date().toISOString(),
        // A failed or running workspace is provisioned again, from a fresh count of attempts.
        ...(reprovision ? { phase: 'pending' as const, attempts: 0, next_attempt_at: null, message: null } : {}),
      },
      { unlessDesired: 'deleted' },
    );
  // More CPUs or memory must fit the owner's and project's quotas, as at create.
  const updated = await (o.policy ? o.policy.admitChange({ row, before, after }, write) : write());
  if (!updated) throw new ConflictError(`Workspace "${row.name}" is being deleted; its spec can no longer change.`);
  const how = reprovision ? 'provisioning again on the same storage' : 'applied at the next start';
  await o.events.secretsChanged(row.id);
  await o.events.append(row.id, 'info', `Spec changed: ${changes.join(', ')}; ${how}.`);
  if (reprovision) {
    await o.events.append(row.id, 'phase', 'pending');
    o.reconciler.kick(row.id, { preempt: true });
  }
  return service.toWire(updated);
}
