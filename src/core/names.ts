/** Validation of user-chosen names and filesystem paths. */
import path from 'node:path/posix';
import { InputError } from './errors.ts';

/** DNS-label rule (RFC 1123): what every workspace, project, user and provisioner name must satisfy. */
export const NAME_PATTERN = '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$';
const NAME_RE = new RegExp(NAME_PATTERN);

/** Throws InputError unless `name` is a DNS label: 1–63 lowercase letters, digits or '-', not starting or ending with '-'. */
export function assertName(name: string, what: string): void {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new InputError(
      `${what} "${String(name).slice(0, 80)}" is not valid: use 1 to 63 lowercase letters, digits or '-', starting and ending with a letter or digit.`,
    );
  }
}

/** Environment variable names as POSIX shells accept them. */
export const ENV_NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_]*$';

/**
 * Validates a path inside a workspace: absolute (`/…`) or home-relative (`~/…`), already normalized,
 * no `..` segments, no NUL. Returns it unchanged so callers can chain.
 */
export function assertWorkspacePath(p: string, what: string): string {
  if (typeof p !== 'string' || p.length === 0) throw new InputError(`${what} must be a non-empty path.`);
  if (p.length > 1024) throw new InputError(`${what} is longer than 1024 characters.`);
  if (p.includes('\0')) throw new InputError(`${what} contains a NUL byte.`);
  const home = p === '~' || p.startsWith('~/');
  if (!home && !p.startsWith('/')) {
    throw new InputError(`${what} "${p}" must be absolute (start with /) or relative to the home directory (start with ~/).`);
  }
  const body = home ? p.slice(1) || '/' : p;
  if (body.split('/').includes('..')) throw new InputError(`${what} "${p}" must not contain '..' segments.`);
  if (path.normalize(body) !== body || (body.length > 1 && body.endsWith('/'))) {
    throw new InputError(`${what} "${p}" is not normalized: remove '.', repeated or trailing slashes.`);
  }
  if (body === '/') throw new InputError(`${what} "${p}" must name a file or directory below the root, not the root itself.`);
  return p;
}

/**
 * Resolves a validated workspace path against real directories, guaranteeing the result stays
 * inside `root` (for `/…` paths under `mountPath`) or `home` (for `~/…`). Returns null when the path lies elsewhere.
 */
export function resolveInside(p: string, mounts: { mountPath: string; root: string; home: string }): string | null {
  if (p.startsWith('~/')) return path.join(mounts.home, p.slice(2));
  const rel = path.relative(mounts.mountPath, p);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return null;
  return path.join(mounts.root, rel);
}
