/** Resolution of a container's run-as user (`spec.user` or the image's USER) against the image's /etc/passwd and /etc/group. */
import { ProvisionerError } from '../core/errors.ts';

/** The user processes of a workspace run as. */
export interface ContainerUser {
  /** What Docker is given as `User`: the spec's (or image's) string as written; empty means root. */
  spec: string;
  uid: number;
  gid: number;
  home: string;
  /** Login shell from passwd, when it is a real shell. */
  shell?: string;
  name?: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

/** Parses /etc/passwd content. */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 7 || line.startsWith('#')) continue;
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) continue;
    out.push({ name: f[0]!, uid, gid, home: f[5] || '/', shell: f[6]!.trim() });
  }
  return out;
}

/** Parses /etc/group content into name → gid. */
export function parseGroup(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 3) continue;
    const gid = Number(f[2]);
    if (Number.isInteger(gid)) out.set(f[0]!, gid);
  }
  return out;
}

const NOT_SHELLS = /(nologin|false|sync|shutdown|halt)$/;

/**
 * Resolves `user` (`name`, `uid`, `name:group`, `uid:gid`; empty = root) the way Docker does.
 * Throws a permanent ProvisionerError naming the image when a name is unknown.
 */
export function resolveUser(user: string, passwd: string, group: string, image: string): ContainerUser {
  const [u = '', g] = user.split(':');
  const entries = parsePasswd(passwd);
  const numeric = /^\d+$/.test(u);
  const entry = u === '' ? entries.find((e) => e.uid === 0) : numeric ? entries.find((e) => e.uid === Number(u)) : entries.find((e) => e.name === u);
  if (!entry && !numeric && u !== '') {
    throw new ProvisionerError(`User "${u}" does not exist in image ${image}; set spec.user to a user from the image's /etc/passwd, or to a numeric uid[:gid].`, {
      retryable: false,
      code: 'user_not_found',
    });
  }
  const uid = u === '' ? 0 : numeric ? Number(u) : entry!.uid;
  let gid = entry?.gid ?? 0;
  if (g !== undefined && g !== '') {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const found = parseGroup(group).get(g);
      if (found === undefined) {
        throw new ProvisionerError(`Group "${g}" does not exist in image ${image}; fix spec.user or use a numeric gid.`, { retryable: false, code: 'user_not_found' });
      }
      gid = found;
    }
  }
  const home = entry?.home && entry.home !== '/nonexistent' ? entry.home : uid === 0 ? '/root' : '/';
  const shell = entry && entry.shell.startsWith('/') && !NOT_SHELLS.test(entry.shell) ? entry.shell : undefined;
  return { spec: user, uid, gid, home, ...(shell ? { shell } : {}), ...(entry ? { name: entry.name } : {}) };
}

/** Expands a `~/…` spec path against the user's home; absolute paths are returned unchanged. */
export function expandHome(p: string, home: string): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return `${home.replace(/\/+$/, '')}/${p.slice(2)}`;
  return p;
}
