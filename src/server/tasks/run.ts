/**
 * One run of a task, step by step: create (or fork) the workspace, wait until it runs, put the
 * checkout on the run's branch, run the command, commit what it left, push the branch through the
 * gateway, clean up by policy. Each step is reported through `report` as it begins.
 */
import { BerthError, errorMessage } from '../../core/errors.ts';
import type { ProvisionerRegistry } from '../../provisioners/registry.ts';
import type { Cleanup, TaskStep } from '../../sdk/tasks.ts';
import type { Workspace } from '../../sdk/wire.ts';
import type { Store, WorkspaceRow } from '../../store/store.ts';
import type { Principal } from '../auth.ts';
import type { WorkspaceContexts } from '../contexts.ts';
import type { WorkspaceService } from '../workspaces.ts';
import type { ActivityTracker } from '../activity.ts';
import { runInWorkspace, type CommandResult } from './exec.ts';
import type { TaskRow, TaskRunPatch, TaskRunRow } from './store.ts';

/** Makes a copy of a workspace under a new name (the fork service); absent = `from` is refused. */
export type ForkFn = (p: Principal, source: string, name: string) => Promise<Workspace>;

/** What a run needs of the control plane. */
export interface RunDeps {
  store: Store;
  workspaces: WorkspaceService;
  registry: ProvisionerRegistry;
  contexts: WorkspaceContexts;
  activity: ActivityTracker;
  fork?: ForkFn;
  /** Longest wait for a workspace to be running. */
  startTimeoutMs: number;
  /** How often the workspace's phase is read while waiting. */
  pollMs: number;
}

/** Records a change of the run (persisted and streamed by the caller). */
export type Report = (patch: TaskRunPatch) => Promise<void>;

/** The branch a run's work is pushed to. */
export function runBranch(taskId: string, index: number): string {
  return `task/${taskId}/${index}`;
}

const PREPARE = 'set -e; git checkout -q -B "$1"; git rev-parse HEAD; git config user.email >/dev/null 2>&1 || echo no-identity';
const COLLECT = 'git add -A && { git diff --cached --quiet || git commit -q -m "$2"; } && git diff --stat=120 "$1" HEAD';

/** Runs one run to its end; resolves with the final patch (phase, step, message). Never throws. */
export async function executeRun(d: RunDeps, task: TaskRow, run: TaskRunRow, owner: Principal, signal: AbortSignal, report: Report): Promise<void> {
  const step = (s: TaskStep, extra: TaskRunPatch = {}) => {
    if (run.workspace_id) d.activity.step(run.workspace_id, s);
    return report({ step: s, ...extra });
  };
  let row: WorkspaceRow | undefined;
  let result: CommandResult | undefined;
  let pushed = false;
  let message: string | null = null;
  try {
    await report({ phase: 'running', started_at: new Date().toISOString() });
    const ws = await createWorkspace(d, task, run, owner, step);
    run.workspace_id = ws.id;
    await report({ workspace_id: ws.id });
    await step('waiting');
    row = await waitRunning(d, ws.id, signal);
    const ctx = await d.contexts.current(row);
    const provisioner = d.registry.get(row.provisioner);
    const branch = runBranch(task.id, run.idx);
    const prep = await runInWorkspace(provisioner, ctx, ['sh', '-c', PREPARE, 'sh', branch], { signal });
    const start = /^[0-9a-f]{40,64}$/m.exec(prep.output)?.[0];
    if (prep.code !== 0 || !start) throw new BerthError('git_failed', `The workspace's checkout could not be put on branch ${branch}: ${prep.lastLine ?? `exit code ${prep.code}`}`);
    const owned = await d.store.getUser(task.owner_id);
    const identity = /no-identity/.test(prep.output) && owned ? gitIdentity(owned.name) : {};
    await step('running', { start_commit: start, branch });
    const cmd = JSON.parse(task.cmd_json) as string[];
    void d.activity.command(ws.id, cmd);
    const t0 = Date.now();
    result = await runInWorkspace(provisioner, ctx, cmd, {
      env: { ...identity, BERTH_TASK_ID: task.id, BERTH_TASK_INDEX: String(run.idx) },
      signal,
      onLine: (line) => void report({ last_line: line }),
      onOutput: (tail) => {
        // The live row: `task logs` shows the output of a run still in progress.
        run.log = tail;
        d.activity.output(ws.id);
      },
    });
    await report({ exit_code: result.code, duration_ms: Date.now() - t0, log: result.output, ...(result.lastLine ? { last_line: result.lastLine } : {}) });
    if (signal.aborted) throw new BerthError('aborted', 'The task was deleted while this run was in progress.');
    await step('collecting');
    const collected = await runInWorkspace(provisioner, ctx, ['sh', '-c', COLLECT, 'sh', start, `Task ${task.id} run ${run.idx}`], { env: identity, signal, maxBytes: 8192 });
    await report({ diff_stat: collected.code === 0 ? collected.output.trimEnd() : null });
    if (collected.code !== 0) message = `What the command left could not be committed: ${collected.lastLine ?? `exit code ${collected.code}`}`;
    await step('pushing');
    const push = await runInWorkspace(provisioner, ctx, ['git', 'push', '-q', 'origin', `HEAD:refs/heads/${branch}`], { env: { GIT_TERMINAL_PROMPT: '0' }, signal });
    pushed = push.code === 0;
    await report({ pushed: pushed ? 1 : 0 });
    if (!pushed) message ??= `The branch ${branch} could not be pushed: ${push.lastLine ?? `exit code ${push.code}`}`;
  } catch (err) {
    message = errorMessage(err);
  }
  const ok = result?.code === 0 && pushed && message === null;
  const finished = new Date().toISOString();
  await report({ phase: ok ? 'succeeded' : 'failed', finished_at: finished, message: ok ? null : (message ?? `The command exited with code ${result?.code}.`) });
  await cleanup(d, task.cleanup as Cleanup, ok, run, owner, step);
  await step('done');
  if (run.workspace_id) d.activity.step(run.workspace_id, null);
}

/** Author and committer for a checkout with no identity configured: the task's owner. */
function gitIdentity(name: string): Record<string, string> {
  const email = `${name}@berth.local`;
  return { GIT_AUTHOR_NAME: name, GIT_AUTHOR_EMAIL: email, GIT_COMMITTER_NAME: name, GIT_COMMITTER_EMAIL: email };
}

async function createWorkspace(d: RunDeps, task: TaskRow, run: TaskRunRow, owner: Principal, step: (s: TaskStep) => Promise<void>): Promise<Workspace> {
  if (task.from_ws) {
    await step('forking');
    if (!d.fork) throw new BerthError('invalid_input', 'This server cannot fork workspaces; run the task with --ref instead of --from.');
    return d.fork(owner, task.from_ws, run.workspace_name);
  }
  await step('creating');
  const project = await d.store.getProject(task.project_id);
  return d.workspaces.create(owner, {
    name: run.workspace_name,
    project: project?.name ?? task.project_id,
    ...(task.ref ? { ref: task.ref } : {}),
    ...(task.provisioner ? { provisioner: task.provisioner } : {}),
    ...(task.spec_json ? { spec: JSON.parse(task.spec_json) as object } : {}),
  });
}

/** Waits until the workspace runs; a failed or deleted workspace ends the run with its message. */
async function waitRunning(d: RunDeps, id: string, signal: AbortSignal): Promise<WorkspaceRow> {
  const deadline = Date.now() + d.startTimeoutMs;
  for (;;) {
    if (signal.aborted) throw new BerthError('aborted', 'The task was deleted before this run started its command.');
    const row = await d.store.getWorkspace(id);
    if (!row || row.desired === 'deleted') throw new BerthError('conflict', 'The workspace of this run was deleted before it was running.');
    if (row.phase === 'running') return row;
    if (row.phase === 'failed') throw new BerthError('provisioner_error', `The workspace did not start: ${row.message ?? 'it failed'}`);
    if (Date.now() > deadline) throw new BerthError('provisioner_error', `The workspace was not running after ${Math.round(d.startTimeoutMs / 1000)} s (it is ${row.phase}).`);
    await new Promise((r) => setTimeout(r, d.pollMs));
  }
}

/** Deletes the run's workspace when the policy says so. */
async function cleanup(d: RunDeps, policy: Cleanup, ok: boolean, run: TaskRunRow, owner: Principal, step: (s: TaskStep) => Promise<void>): Promise<void> {
  if (!run.workspace_id || policy === 'keep-all' || (policy === 'keep-failed' && !ok)) return;
  await step('cleaning');
  await d.workspaces.setDesired(owner, run.workspace_id, 'deleted').catch(() => undefined);
}
