/**
 * Forks on an agent: `POST /v1/workspaces/:id/copy?wait=1` with `{"from": "<workspace id>"}` fills
 * the storage of a new workspace `:id` with a copy of the files of one this agent holds (the docker
 * runtime's copy: `cp -a --reflink=auto` on this host), streaming progress as NDJSON wait lines and
 * ending with the new workspace's report. Added to protocol v1: an older agent answers 404, which the
 * control plane reports as the agent not supporting forks. The PUT that provisions the fork follows.
 */
import type { ServerResponse } from 'node:http';
import { AbortedError, BerthError, ConflictError, InputError, NotFoundError, errorMessage } from '../core/errors.ts';
import type { DockerProvisioner } from '../provisioners/docker/docker.ts';
import { PROTOCOL_HEADER, PROTOCOL_MAJOR, type WaitLine } from './protocol.ts';
import { checkWorkspaceId } from './root.ts';
import type { AgentWorkspaces } from './workspaces.ts';

/** Body of `POST /v1/workspaces/:id/copy`. */
export interface CopyWorkspace {
  from: string;
}

/** Whether the agent has the desired state of `id` (put, and not deleted). */
function holds(workspaces: AgentWorkspaces, id: string): boolean {
  try {
    workspaces.context(id);
    return true;
  } catch (err) {
    if (err instanceof NotFoundError) return false;
    throw err;
  }
}

/** Copies the storage of `from` into the new workspace `to`, streaming wait lines to `res`. */
export async function copyStream(workspaces: AgentWorkspaces, provisioner: DockerProvisioner, to: string, body: unknown, res: ServerResponse, hijack: () => void): Promise<void> {
  const from = (body as Partial<CopyWorkspace> | undefined)?.from;
  if (typeof from !== 'string') throw new InputError('The body must be {"from":"<workspace id>"}.');
  checkWorkspaceId(to);
  const source = workspaces.context(checkWorkspaceId(from));
  if (holds(workspaces, to)) throw new ConflictError(`Workspace ${to} is provisioned on this agent already; a fork's files are copied only before its first provision.`);
  hijack();
  res.writeHead(200, { 'content-type': 'application/x-ndjson', [PROTOCOL_HEADER]: String(PROTOCOL_MAJOR) });
  const write = (l: WaitLine) => res.write(`${JSON.stringify(l)}\n`);
  const gone = new AbortController();
  res.once('close', () => gone.abort(new AbortedError('The control plane went away.')));
  try {
    await provisioner.copyStorage(source, { ...source, id: to, name: to }, {
      signal: gone.signal,
      progress: (line, kind) => write({ type: 'progress', line, ...(kind ? { kind } : {}) }),
    });
    write({ type: 'done', report: await workspaces.report(to) });
  } catch (err) {
    const retryable = !(err instanceof BerthError) || Boolean((err as { retryable?: boolean }).retryable);
    if (!gone.signal.aborted) write({ type: 'error', error: { code: err instanceof BerthError ? err.code : 'provisioner_error', message: errorMessage(err), retryable } });
  } finally {
    res.end();
  }
}
