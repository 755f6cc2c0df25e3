/**
 * The MCP tool catalogue: name, description, input schema and handler of every tool, shared by
 * `berth mcp` (stdio) and the server's /mcp. Handlers call the REST API through the SDK client
 * with the caller's token, so roles, quotas and validation are the API's own; input schemas are
 * built from the same TypeBox schemas the API validates with.
 */
import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox';
import type { ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import { InputError } from '../core/errors.ts';
import type { BerthClient } from '../sdk/client.ts';
import { RunTaskSchema, TaskIdSchema } from '../sdk/tasks.ts';
import { CreateWorkspaceSchema, ForkWorkspaceSchema, GitCommitSchema, GitPathsSchema, GitSyncOptionsSchema, WorkspaceRefSchema, type GitDiff, type GitSyncOptions, type Workspace } from '../sdk/wire.ts';
import { describeRun, runBounded } from './exec.ts';
import { readFile, READ_LIMIT, writeFile } from './files.ts';

/** What a tool hands back: text for the model, and the same as structured data when there is any. */
export interface ToolOutput {
  text: string;
  data?: Record<string, unknown>;
}

/** One tool: its MCP description and the handler that runs it against the API. */
export interface ToolDef<S extends TObject = TObject> {
  name: string;
  description: string;
  input: S;
  annotations?: ToolAnnotations;
  run(api: BerthClient, args: Static<S>, signal: AbortSignal): Promise<ToolOutput>;
}

/** Largest stdout (and stderr) an exec returns; the rest is cut with a notice. */
export const EXEC_OUTPUT_LIMIT = 64 * 1024;
const EXEC_TIMEOUT_S = 60;
const MAX_TIMEOUT_S = 600;

const ref = { ref: WorkspaceRefSchema };
const strict = { additionalProperties: false } as const;
const RefInput = Type.Object(ref, strict);
const Timeout = (dflt: number) => Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TIMEOUT_S, description: `Seconds to wait (default ${dflt}, at most ${MAX_TIMEOUT_S})` }));
const Encoding = Type.Optional(Type.Union([Type.Literal('utf8'), Type.Literal('base64')], { description: 'utf8 (default) or base64 for binary content' }));
const readOnly: ToolAnnotations = { readOnlyHint: true, openWorldHint: false };
const changes: ToolAnnotations = { readOnlyHint: false, destructiveHint: false, openWorldHint: false };

/** An API answer as the tool's output: pretty JSON text, and the object itself (a list under `items`). */
function json(value: unknown): ToolOutput {
  const data = Array.isArray(value) ? { items: value } : (value as Record<string, unknown> | undefined);
  return { text: JSON.stringify(value ?? null, null, 2), ...(data ? { data } : {}) };
}

/** Declares a tool, keeping its handler's argument type tied to its schema. */
function tool<S extends TObject>(def: ToolDef<S>): ToolDef {
  return def;
}

/** Polls until the workspace is in `phase`; a failed workspace, or a timeout, is an error with its message. */
async function waitFor(api: BerthClient, wsRef: string, phase: 'running' | 'stopped', timeoutS: number, signal: AbortSignal): Promise<Workspace> {
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const w = await api.getWorkspace(wsRef);
    if (w.phase === phase) return w;
    if (w.phase === 'failed') throw new InputError(`Workspace "${w.name}" failed: ${w.message ?? 'no message'}.`);
    if (Date.now() > deadline || signal.aborted) throw new InputError(`Workspace "${w.name}" is still ${w.phase} after ${timeoutS} s${w.message ? ` (${w.message})` : ''}; wait again or look at it with get_workspace.`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** git_push or git_pull: a sync with the project's upstream through the git gateway, taking the one option that applies to that way. */
function gitSyncTool(verb: 'push' | 'pull', option: keyof GitSyncOptions, description: string): ToolDef {
  const options: TProperties = { [option]: GitSyncOptionsSchema.properties[option] };
  return tool({
    name: `git_${verb}`,
    description,
    input: Type.Object({ ...ref, ...options }, strict),
    annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: true },
    run: async (api, a) => {
      // The schema lets only `ref` and this way's option through.
      const { ref: wsRef, ...opts } = a as { ref: string } & GitSyncOptions;
      return json(await api.gitSync(wsRef, verb, opts));
    },
  });
}

function diffText(d: GitDiff): string {
  const out: string[] = [];
  for (const [title, files] of [['Staged', d.staged], ['Unstaged', d.unstaged]] as const) {
    if (files.length) out.push(`# ${title} changes (${files.length} file${files.length === 1 ? '' : 's'})`, ...files.map((f) => f.patch.trimEnd()));
  }
  if (d.truncated) out.push('[diff truncated: it was too large; ask for fewer paths]');
  return out.length ? out.join('\n') : 'No changes (untracked files show in git_status until they are staged).';
}

/** Every tool, in the order tools/list shows them. */
export const TOOLS: readonly ToolDef[] = [
  tool({
    name: 'list_workspaces',
    description: 'List your workspaces (admins: all=true for everyone\'s) with their phase, project, provisioner and ports.',
    input: Type.Object({ all: Type.Optional(Type.Boolean({ description: "Admins: everyone's workspaces" })) }, strict),
    annotations: readOnly,
    run: async (api, a) => json(await api.listWorkspaces(a.all ?? false)),
  }),
  tool({
    name: 'get_workspace',
    description: 'Show one workspace: phase (pending, running, stopped, failed…), message, ports, spec and activity.',
    input: RefInput,
    annotations: readOnly,
    run: async (api, a) => json(await api.getWorkspace(a.ref)),
  }),
  tool({
    name: 'create_workspace',
    description: 'Create a workspace: a checkout of a project (optionally of a branch) on a provisioner. It is provisioned in the background; wait_workspace waits until it runs.',
    input: CreateWorkspaceSchema,
    annotations: changes,
    run: async (api, a) => json(await api.createWorkspace(a)),
  }),
  tool({
    name: 'fork_workspace',
    description:
      "Fork a workspace: new workspaces (count of them, named NAME-1..NAME-N when more than one) starting from a copy of ref's files as they are now, " +
      'uncommitted changes included, each on its own branch with its own token and ports; the source keeps running. wait_workspace waits for each.',
    input: Type.Object({ ...ref, ...ForkWorkspaceSchema.properties }, strict),
    annotations: changes,
    run: async (api, a) => {
      const { ref: source, ...fork } = a;
      return json(await api.forkWorkspace(source, fork));
    },
  }),
  tool({
    name: 'wait_workspace',
    description: 'Wait until a workspace is running (or stopped); fails with its message when it fails or the time runs out.',
    input: Type.Object({ ...ref, phase: Type.Optional(Type.Union([Type.Literal('running'), Type.Literal('stopped')], { description: 'default running' })), timeoutSeconds: Timeout(120) }, strict),
    annotations: readOnly,
    run: async (api, a, signal) => json(await waitFor(api, a.ref, a.phase ?? 'running', a.timeoutSeconds ?? 120, signal)),
  }),
  tool({
    name: 'exec',
    description:
      `Run a command in a running workspace, in its checkout, without a terminal: give argv as cmd, or a shell command line as command (run by sh -c). ` +
      `Returns the exit code, stdout and stderr (each cut at ${EXEC_OUTPUT_LIMIT / 1024} KiB with a notice); killed after timeoutSeconds (default ${EXEC_TIMEOUT_S}).`,
    input: Type.Object(
      {
        ...ref,
        cmd: Type.Optional(Type.Array(Type.String({ maxLength: 65536 }), { minItems: 1, maxItems: 4096, description: 'argv, e.g. ["npm","test"]' })),
        command: Type.Optional(Type.String({ minLength: 1, maxLength: 65536, description: 'A shell command line, e.g. "make test 2>&1 | tail -50"' })),
        stdin: Type.Optional(Type.String({ maxLength: 1024 * 1024, description: 'Text given to the command on stdin' })),
        timeoutSeconds: Timeout(EXEC_TIMEOUT_S),
      },
      strict,
    ),
    annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: true },
    run: async (api, a, signal) => {
      if ((a.cmd === undefined) === (a.command === undefined)) throw new InputError('Give either cmd (argv) or command (a shell command line), not both or neither.');
      const timeoutMs = (a.timeoutSeconds ?? EXEC_TIMEOUT_S) * 1000;
      const argv = a.cmd ?? ['sh', '-c', a.command!];
      const r = await runBounded(api, a.ref, argv, { timeoutMs, maxBytes: EXEC_OUTPUT_LIMIT, signal, ...(a.stdin !== undefined ? { stdin: Buffer.from(a.stdin) } : {}) });
      const data = {
        exitCode: r.code,
        signal: r.signal,
        timedOut: r.timedOut,
        stdout: r.stdout.toString('utf8'),
        stderr: r.stderr.toString('utf8'),
        stdoutTruncated: r.stdoutBytes > r.stdout.length,
        stderrTruncated: r.stderrBytes > r.stderr.length,
      };
      return { text: describeRun(r, timeoutMs), data };
    },
  }),
  tool({
    name: 'read_file',
    description: `Read a file of a running workspace, by its path relative to the checkout (at most ${READ_LIMIT / 1024 / 1024} MiB is returned).`,
    input: Type.Object({ ...ref, path: Type.String({ minLength: 1, maxLength: 4096, description: 'Relative to the checkout' }), encoding: Encoding }, strict),
    annotations: readOnly,
    run: async (api, a) => {
      const { data, size } = await readFile(api, a.ref, a.path);
      const content = a.encoding === 'base64' ? data.toString('base64') : data.toString('utf8');
      const cut = size > data.length ? `\n[file truncated: ${size} bytes, the first ${data.length} shown]` : '';
      return { text: `${content}${cut}`, data: { path: a.path, size, truncated: size > data.length, encoding: a.encoding ?? 'utf8', content } };
    },
  }),
  tool({
    name: 'write_file',
    description: 'Write (create or replace) a file of a running workspace, by its path relative to the checkout; missing directories are created.',
    input: Type.Object(
      { ...ref, path: Type.String({ minLength: 1, maxLength: 4096, description: 'Relative to the checkout' }), content: Type.String({ description: 'The whole new content' }), encoding: Encoding },
      strict,
    ),
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    run: async (api, a) => {
      const bytes = await writeFile(api, a.ref, a.path, Buffer.from(a.content, a.encoding === 'base64' ? 'base64' : 'utf8'));
      return { text: `Wrote ${bytes} bytes to ${a.path}.`, data: { path: a.path, bytes } };
    },
  }),
  tool({
    name: 'git_status',
    description: "git status of a running workspace's checkout: branch, ahead/behind its upstream, and each changed or untracked file.",
    input: RefInput,
    annotations: readOnly,
    run: async (api, a) => json(await api.gitStatus(a.ref)),
  }),
  tool({
    name: 'git_diff',
    description: "Staged and unstaged changes of a running workspace's checkout as patches, optionally for some paths only (untracked files are not in a diff).",
    input: Type.Object({ ...ref, paths: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { maxItems: 1000 })) }, strict),
    annotations: readOnly,
    run: async (api, a) => {
      const d = await api.gitDiff(a.ref, a.paths ?? []);
      return { text: diffText(d), data: d };
    },
  }),
  tool({
    name: 'git_stage',
    description: 'Stage files (git add), new ones included: the paths given, or every change with all=true.',
    input: Type.Object({ ...ref, ...GitPathsSchema.properties }, strict),
    annotations: changes,
    run: async (api, a) => json(await api.gitPaths(a.ref, 'stage', { ...(a.paths ? { paths: a.paths } : {}), ...(a.all !== undefined ? { all: a.all } : {}) })),
  }),
  tool({
    name: 'git_commit',
    description: 'Commit the staged changes (all=true: every change to tracked files) with a message; fails when there is nothing to commit.',
    input: Type.Object({ ...ref, ...GitCommitSchema.properties }, strict),
    annotations: changes,
    run: async (api, a) => json(await api.gitCommit(a.ref, a.message, a.all ?? false)),
  }),
  gitSyncTool('push', 'force', "Push the workspace's branch through Berth's git gateway to the project's upstream; a rejection comes back with git's message."),
  gitSyncTool('pull', 'rebase', "Pull the workspace's branch from the project's upstream through the git gateway (rebase=true to rebase); conflicts come back as an error."),
  tool({
    name: 'run_task',
    description:
      'Fan out a headless command: count new workspaces of a project (or forks of the workspace from), the command run in each with BERTH_TASK_ID and ' +
      'BERTH_TASK_INDEX, through a bounded queue; each run\'s branch is pushed. Returns at once with the task id; get_task follows it.',
    input: RunTaskSchema,
    annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: true },
    run: async (api, a) => json(await api.tasks.runTask(a)),
  }),
  tool({
    name: 'get_task',
    description: 'Show a task and each run: workspace, phase, step, exit code, duration, git diff --stat, branch and last line.',
    input: Type.Object({ id: TaskIdSchema }, strict),
    annotations: readOnly,
    run: async (api, a) => json(await api.tasks.getTask(a.id)),
  }),
  tool({
    name: 'list_tasks',
    description: 'List tasks (yours and those of projects you can read), newest first, with their state and a summary of their runs.',
    input: Type.Object({}, strict),
    annotations: readOnly,
    run: async (api) => json(await api.tasks.listTasks()),
  }),
  tool({
    name: 'get_task_logs',
    description: "The kept output (the last 64 KiB) of each run of a task, or of one run by its index.",
    input: Type.Object({ id: TaskIdSchema, index: Type.Optional(Type.Integer({ minimum: 0, maximum: 999, description: 'A run index' })) }, strict),
    annotations: readOnly,
    run: async (api, a) => json(await api.tasks.taskLogs(a.id, a.index)),
  }),
  tool({
    name: 'start_workspace',
    description: 'Start a stopped workspace (in the background; wait_workspace waits until it runs).',
    input: RefInput,
    annotations: changes,
    run: async (api, a) => json(await api.startWorkspace(a.ref)),
  }),
  tool({
    name: 'stop_workspace',
    description: 'Stop a workspace; its files are kept and start_workspace starts it again.',
    input: RefInput,
    annotations: changes,
    run: async (api, a) => json(await api.stopWorkspace(a.ref)),
  }),
  tool({
    name: 'delete_workspace',
    description: 'Delete a workspace and its storage, uncommitted and unpushed work included. Cannot be undone.',
    input: RefInput,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    run: async (api, a) => json(await api.deleteWorkspace(a.ref)),
  }),
];
