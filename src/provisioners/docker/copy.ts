/**
 * A fork's storage on a Docker engine. Bind storage is a directory on this host: copied here with
 * `cp -a --reflink=auto` (copy-on-write where the filesystem can). A volume (remote engines) is only
 * reachable through the engine: a short-lived helper container, from the source's own image, mounts
 * the source volume read-only and the new one, and copies with `cp -a` as root so owners and modes
 * stay as they are. Either way the source keeps running; its files are copied as they are then.
 */
import path from 'node:path';
import { ProvisionerError } from '../../core/errors.ts';
import { copyTree, seriousCopyErrors } from '../copy-tree.ts';
import type { OpOptions, WorkspaceContext } from '../provisioner.ts';
import { containerName, type DockerRuntime } from './runtime.ts';
import { LABELS, VolumeStorage } from './storage.ts';

/** How long a helper copy may take before it is given up (and retried by the reconciler). */
const COPY_TIMEOUT_MS = 60 * 60_000;

/** Empties the target (a copy cut short before), then copies; only files that vanish mid-copy may be missing. */
const HELPER_SCRIPT = 'rm -rf /to/* /to/.[!.]* /to/..?* && cp -a /from/. /to/';

/** Creates the storage of `to` as a copy of the storage of `from` on the runtime's engine. */
export async function copyDockerStorage(rt: DockerRuntime, from: WorkspaceContext, to: WorkspaceContext, opts: OpOptions): Promise<void> {
  const src = rt.storage.hostDir(from.id);
  const scratch = rt.storage.scratchDir?.();
  if (src && scratch) {
    await copyTree(src, rt.storage.hostDir(to.id)!, { ...opts, tmp: path.join(scratch, `${to.id}-fork`) });
    return;
  }
  if (!(await rt.storage.exists(from.id))) throw new ProvisionerError(`Workspace "${from.name}" has no storage on ${rt.engine.where} to copy; it was never provisioned there, or was deleted.`, { retryable: false });
  const image = await helperImage(rt, from);
  const shared = rt.sharedStores(to).map((s) => s.key);
  await rt.storage.ensure({ id: to.id, owner: to.owner.id, project: to.project.name, image: rt.image(to.spec) ?? image, shared });
  const res = await rt.engine.runOnce(
    {
      Image: image,
      User: '0',
      Entrypoint: ['/bin/sh', '-c', HELPER_SCRIPT],
      Cmd: [],
      Labels: { [LABELS.installation]: rt.settings.installation, [LABELS.provisioner]: rt.settings.provisioner, [LABELS.kind]: 'copy', [LABELS.workspace]: to.id },
      HostConfig: {
        Mounts: [
          { Type: 'volume', Source: VolumeStorage.volumeName(from.id), Target: '/from', ReadOnly: true },
          { Type: 'volume', Source: VolumeStorage.volumeName(to.id), Target: '/to' },
        ],
        NetworkMode: 'none',
        CapDrop: ['ALL'],
        // What `cp -a` as root needs to keep owners, modes and special files of every user.
        CapAdd: ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'MKNOD'],
        SecurityOpt: ['no-new-privileges:true'],
      },
    },
    COPY_TIMEOUT_MS,
    opts.signal,
  );
  const lines = res.output.split('\n').map((l) => l.replace(/\r$/, '').trim()).filter(Boolean);
  const serious = seriousCopyErrors(lines);
  if (res.code === null) throw new ProvisionerError(`Copying the files of "${from.name}" took longer than ${COPY_TIMEOUT_MS / 60_000} minutes and was given up.`);
  if (res.code !== 0 && (serious.length > 0 || lines.length === 0)) {
    throw new ProvisionerError(`Copying the files of "${from.name}" in a helper container from ${image} failed (exit code ${res.code}): ${serious[0] ?? 'no message'}`, { retryable: true });
  }
  if (lines.length) opts.progress(`${lines.length} file(s) vanished from the source while they were copied and are not in the copy.`, 'info');
}

/** The image the source runs (by id, so a moved tag does not matter), else its spec's: it is on the engine, and it has a shell and cp. */
async function helperImage(rt: DockerRuntime, from: WorkspaceContext): Promise<string> {
  const c = await rt.engine.inspectContainer(containerName(from.id));
  if (c?.Image) return c.Image;
  const ref = rt.image(from.spec);
  const img = ref ? await rt.engine.inspectImage(ref) : null;
  if (!img) throw new ProvisionerError(`The image of "${from.name}" (${ref ?? 'none'}) is not on ${rt.engine.where}, so its files cannot be copied; start it once and fork again.`, { retryable: false });
  return img.Id;
}
