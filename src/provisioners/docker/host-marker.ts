/**
 * Host-side writes into a fresh bind storage's `.berth/` (its ownership and the checkout marker),
 * made safe against a container that is already running: see inBerthDir.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ContainerUser } from '../image-users.ts';

/** Written into `.berth/` once the checkout is complete and owned by the workspace user. */
export const CHECKOUT_MARKER = 'checkout-complete';

/** Whether `/proc/self/fd` names opened directories (Linux), which inBerthDir relies on. */
export const PINNED_PATHS = fs.existsSync('/proc/self/fd');

/**
 * Runs `fn` with the path of `.berth/` in `hostDir` pinned by a descriptor (`/proc/self/fd/N`):
 * the container already runs, and a root user in it may swap `.berth` for a symlink, which must not
 * send a write or chmod of this root server elsewhere on the host. A final path component is never
 * followed either (O_NOFOLLOW, O_EXCL, lchown, rename).
 */
function inBerthDir(hostDir: string, fn: (dir: string, fd: number) => void): void {
  const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = fs.constants;
  const fd = fs.openSync(path.join(hostDir, '.berth'), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  try {
    fn(`/proc/self/fd/${fd}`, fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** The mount root and `.berth/` of a fresh bind storage, given to the workspace user as ownershipEntries would in the container. */
export function ownFreshRoots(hostDir: string, u: ContainerUser): void {
  // The mount root itself cannot be replaced from inside the container: it is the mount.
  fs.chmodSync(hostDir, 0o755);
  fs.lchownSync(hostDir, u.uid, u.gid);
  inBerthDir(hostDir, (_dir, fd) => {
    fs.fchmodSync(fd, 0o700);
    fs.fchownSync(fd, u.uid, u.gid);
  });
}

/** The checkout's marker, written under a temporary name with its owner and then renamed: a crash leaves it whole or absent. */
export function writeMarkerOnHost(hostDir: string, u: ContainerUser): void {
  inBerthDir(hostDir, (dir) => {
    const tmp = path.join(dir, `${CHECKOUT_MARKER}.tmp`);
    fs.rmSync(tmp, { force: true });
    const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
    const fd = fs.openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    try {
      fs.writeSync(fd, `${new Date().toISOString()}\n`);
      fs.fchownSync(fd, u.uid, u.gid);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, path.join(dir, CHECKOUT_MARKER));
  });
}
