/**
 * The agent's root directory and the one rule that guards it: every id, key and path the control
 * plane names resolves inside the root, or the request is refused.
 *
 *   workspaces/<id>            a workspace's files (bind-mounted at its mount path)
 *   userdata/<user>/<key>      a user's data, shared by that user's workspaces
 *   caches/<project>/<key>     a project's caches, shared by that project's workspaces
 *   state/                     desired state per workspace (0600: it holds short-lived credentials)
 *   keys/                      this agent's key and certificate, and the control plane's CA
 */
import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '../core/errors.ts';

/** Names the control plane may give a directory level: no separators, no dot-only names, no control characters. */
const SEGMENT_RE = /^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,127}$/;
const ID_RE = /^ws_[a-z0-9]{1,64}$/;

/** Refuses a workspace id that is not `ws_` plus lower-case letters and digits. */
export function checkWorkspaceId(id: string): string {
  if (!ID_RE.test(id)) throw new InputError(`Refused workspace id "${id.slice(0, 80)}": ids are "ws_" followed by lower-case letters and digits, so that they cannot name a path outside the agent's root.`);
  return id;
}

/** Refuses a user id, project name or store key that could leave its directory. */
export function checkSegment(value: string, what: string): string {
  if (!SEGMENT_RE.test(value) || value.includes('..')) throw new InputError(`Refused ${what} "${value.slice(0, 80)}": it must be a single path segment of letters, digits and . _ @ - (no "..").`);
  return value;
}

/** The directories of an agent root, created 0700 on first use. */
export class AgentRoot {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
    for (const d of ['workspaces', 'userdata', 'caches', 'state', 'keys']) fs.mkdirSync(path.join(this.dir, d), { recursive: true, mode: 0o700 });
  }

  /** `<root>/<parts…>`, refusing any result outside the root (a symlink included). */
  inside(...parts: string[]): string {
    const p = path.resolve(this.dir, ...parts);
    if (p !== this.dir && !p.startsWith(`${this.dir}${path.sep}`)) throw new InputError(`Refused path ${parts.join('/')}: it leaves the agent's root ${this.dir}.`);
    const real = realExisting(p);
    const root = fs.realpathSync(this.dir);
    if (real !== root && !real.startsWith(`${root}${path.sep}`)) {
      throw new InputError(`Refused path ${parts.join('/')}: a symbolic link leads it out of the agent's root ${this.dir}.`);
    }
    return p;
  }

  get workspaces(): string {
    return path.join(this.dir, 'workspaces');
  }

  get state(): string {
    return path.join(this.dir, 'state');
  }

  get keys(): string {
    return path.join(this.dir, 'keys');
  }
}

/** The real path of `p`'s longest existing prefix, with the rest appended. */
function realExisting(p: string): string {
  let head = p;
  const tail: string[] = [];
  while (!fs.existsSync(head)) {
    tail.unshift(path.basename(head));
    const up = path.dirname(head);
    if (up === head) break;
    head = up;
  }
  return path.join(fs.realpathSync(head), ...tail);
}
